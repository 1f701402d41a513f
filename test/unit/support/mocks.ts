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

/**
 * Installs Pulumi's mock monitor, recording every registered resource in `registered`; `state`
 * gives the outputs a resource reports besides its inputs. Call before importing a component.
 */
export async function installMocks(registered: Registered[], state: (args: Registered) => Record<string, unknown>): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push(args);
        return { id: `${args.name}-id`, state: { ...args.inputs, ...state(args) } };
      },
      call: (args) => args.inputs,
    },
    "dbstack",
    "unit",
    false,
  );
}
