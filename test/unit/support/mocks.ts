import * as pulumi from "@pulumi/pulumi";

/** What the mock monitor saw for one resource. */
export type Registered = pulumi.runtime.MockResourceArgs;

/** Resolves an Output under mocks. */
export function output<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply(resolve));
}

/**
 * Builds a component under a unique `name` and waits until all its children have registered;
 * returns the component, its children as the mock monitor saw them (by name), and their URNs.
 */
export async function buildComponent<T extends pulumi.ComponentResource>(
  name: string,
  make: (opts: pulumi.ComponentResourceOptions) => T,
  registered: Registered[],
): Promise<{ component: T; children: Map<string, Registered>; urns: string[] }> {
  const resources: pulumi.Resource[] = [];
  const collect: pulumi.ResourceTransformation = (t) => {
    resources.push(t.resource);
    return undefined;
  };
  const component = make({ transformations: [collect] });
  // Transformations see the component itself too; keep its children.
  const urns = await Promise.all(resources.filter((r) => r !== component).map((r) => output(r.urn)));
  const children = new Map(registered.filter((r) => r.name.startsWith(`${name}-`)).map((r) => [r.name, r]));
  return { component, children, urns };
}
