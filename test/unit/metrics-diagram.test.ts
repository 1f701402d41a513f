import { JSDOM } from "jsdom";
import { beforeAll, describe, expect, it } from "vitest";
import { decideDiagrams, renderMermaid, type DiagramEvent } from "../../scripts/lib/previewDiagram";

// Declared metrics in the preview's deployment diagram: each member's exporter beside the member
// it reads, marked as the change does; checked with Mermaid's own parser (as in
// status-preview-diagram.test.ts).
type Parsed = { vertices: Map<string, { text: string; classes: string[] }>; edges: { start: string; end: string; text: string }[] };
let parse: (text: string) => Promise<Parsed>;

beforeAll(async () => {
  const dom = new JSDOM("<!doctype html><html><body></body></html>");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  const { default: mermaid } = await import("mermaid");
  parse = async (text) => {
    await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db as unknown as { getVertices(): Map<string, { text: string; classes: string[] }>; getEdges(): { start: string; end: string; text: string }[] };
    return { vertices: db.getVertices(), edges: db.getEdges() };
  };
}, 60_000);

function step(op: string, name: string, inputs: Record<string, unknown>): DiagramEvent {
  return { resourcePreEvent: { metadata: { op, urn: `urn:pulumi:dev::dbstack::dbstack:mariadb:Server$pulumi-nodejs:dynamic/dbstack:HostCommand::${name}`, type: "pulumi-nodejs:dynamic/dbstack:HostCommand", new: op === "delete" ? null : { inputs }, old: op === "create" ? null : { inputs } } } };
}

const component = "mariadb server shop";
const primary = { kind: "ssh", host: "10.0.0.5" };
const replica = { kind: "ssh", host: "10.0.0.6" };

describe("exporters in the preview's diagrams", () => {
  it("draw each exporter beside its member; adding metrics changes neither the primary nor the replica", async () => {
    const events = [
      step("same", "shop-instance", { target: primary, identity: "shop:default", review: { component, dataBearing: true } }),
      step("same", "shop-r1", { target: replica, identity: "shop_r1@standby", review: { component, standby: "r1", dataBearing: true } }),
      step("create", "shop-exporter", { target: primary, review: { component, exporter: { member: "primary", name: "mysqld_exporter", listen: "0.0.0.0:9204" } } }),
      step("create", "shop-r1-exporter", { target: replica, review: { component, exporter: { member: "r1", name: "mysqld_exporter", listen: "0.0.0.0:9204" } } }),
    ];
    const [diagram] = decideDiagrams(events, new Set([component]));
    const { vertices, edges } = await parse(renderMermaid(diagram));
    expect(Object.fromEntries([...vertices].map(([id, v]) => [id, v.text]))).toEqual({
      primary: "primary on root@10.0.0.5",
      standby0: "standby r1 on root@10.0.0.6",
      exporter0: "mysqld_exporter on 0.0.0.0:9204 (added)",
      exporter1: "mysqld_exporter on 0.0.0.0:9204 (added)",
    });
    expect(edges.map((e) => [e.start, e.end, e.text])).toEqual([
      ["primary", "standby0", "replicates to"],
      ["primary", "exporter0", "metrics from"],
      ["standby0", "exporter1", "metrics from"],
    ]);
  });

  it("mark exporters that a removed declaration removes", async () => {
    const events = [
      step("same", "shop-instance", { target: primary, identity: "shop:default", review: { component, dataBearing: true } }),
      step("delete", "shop-exporter", { target: primary, review: { component, exporter: { member: "primary", name: "mysqld_exporter", listen: "127.0.0.1:9204" } } }),
    ];
    const [diagram] = decideDiagrams(events, new Set([component]));
    const { vertices } = await parse(renderMermaid(diagram));
    expect(vertices.get("primary")!.text).toBe("primary on root@10.0.0.5");
    expect(vertices.get("exporter0")).toMatchObject({ text: "mysqld_exporter on 127.0.0.1:9204 (removed)", classes: ["removed"] });
  });
});
