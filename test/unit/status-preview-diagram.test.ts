import { readFileSync } from "fs";
import { JSDOM } from "jsdom";
import { join } from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { decideDiagrams, renderMermaid, type DiagramEvent } from "../../scripts/lib/previewDiagram";
import { renderSummaryMarkdown, summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";

// The diagrams are checked with Mermaid's own parser (the `mermaid` package, in a jsdom window:
// it sanitizes labels with DOMPurify, which needs one).
type Parsed = { vertices: Map<string, { text: string; classes: string[] }>; edges: { start: string; end: string; text: string }[] };
let parse: (text: string) => Promise<Parsed>;

beforeAll(async () => {
  const dom = new JSDOM("<!doctype html><html><body></body></html>");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  const { default: mermaid } = await import("mermaid");
  parse = async (text) => {
    await mermaid.parse(text); // throws on a syntax error
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db as unknown as { getVertices(): Map<string, { text: string; classes: string[] }>; getEdges(): { start: string; end: string; text: string }[] };
    return { vertices: db.getVertices(), edges: db.getEdges() };
  };
}, 60_000);

const recorded = (name: string) => JSON.parse(readFileSync(join(__dirname, "../fixtures/preview-events", name), "utf8")) as PreviewEvent[];

/** A step of a deployment as the engine reports it in a preview. */
function step(op: string, name: string, inputs: Record<string, unknown>): DiagramEvent {
  return { resourcePreEvent: { metadata: { op, urn: `urn:pulumi:dev::dbstack::dbstack:postgres:Cluster$pulumi-nodejs:dynamic/dbstack:HostCommand::${name}`, type: "pulumi-nodejs:dynamic/dbstack:HostCommand", new: op === "delete" ? null : { inputs }, old: op === "create" ? null : { inputs } } } };
}

const primaryHost = { kind: "ssh", host: "10.0.0.5", user: "deploy", configKey: "dbstack:hosts.db1" };
const component = "postgres cluster main";
const events: DiagramEvent[] = [
  step("same", "main-cluster", { target: primaryHost, identity: "main:default", review: { component, dataBearing: true } }),
  step("update", "main-config", { target: primaryHost, review: { component, restartParameters: { port: "5432" } } }),
  step("replace", "main-replica1", { target: { kind: "ssh", host: "10.0.0.6" }, identity: "main_r1@standby", review: { component, standby: "replica1", dataBearing: true } }),
  step("create", "main-replica2", { target: { kind: "docker", container: "dbstack-dev-x-main-replica2" }, identity: "main_r2@standby", review: { component, standby: "replica2", dataBearing: true } }),
  step("create", "main-replica2-config", { target: { kind: "docker", container: "dbstack-dev-x-main-replica2" }, review: { component, standby: "replica2" } }),
  step("delete", "main-backup-schedule", { target: primaryHost, review: { component, backup: { schedule: "0 2 * * *", retentionDays: 30 }, dataBearing: true } }),
  step("same", "other-cluster", { target: { kind: "local" }, identity: "other:default", review: { component: "postgres cluster other", dataBearing: true } }),
];

describe("the preview's deployment diagrams", () => {
  it("draw a changed deployment's primary, standbys and backups with their hosts, marked as the change does, and parse as Mermaid", async () => {
    const diagrams = decideDiagrams(events, new Set([component]));
    expect(diagrams.map((d) => d.component)).toEqual([component]);
    const { vertices, edges } = await parse(renderMermaid(diagrams[0]));
    const nodes = Object.fromEntries([...vertices].map(([id, v]) => [id, { text: v.text, classes: v.classes }]));
    expect(nodes).toEqual({
      primary: { text: "primary on deploy@10.0.0.5 (changed)", classes: ["changed"] },
      standby0: { text: "standby replica1 on root@10.0.0.6 (replaced)", classes: ["replaced"] },
      standby1: { text: "standby replica2 on container dbstack-dev-x-main-replica2 on Docker host unix:///var/run/docker.sock (added)", classes: ["added"] },
      backup0: { text: "backups: 0 2 * * *, kept 30 days on deploy@10.0.0.5 (removed)", classes: ["removed"] },
    });
    expect(edges.map((e) => [e.start, e.end, e.text])).toEqual([
      ["primary", "standby0", "replicates to"],
      ["primary", "standby1", "replicates to"],
      ["primary", "backup0", "backed up to"],
    ]);
  });

  it("keeps label text that would be Mermaid markup as text", async () => {
    const d = { component: "x", nodes: [{ id: "primary", label: 'file on a "host" <b>#1</b> & `x`', mark: "same" as const }], edges: [] };
    const { vertices } = await parse(renderMermaid(d));
    expect(vertices.get("primary")!.text).not.toContain("<b>");
  });

  it("reach the pull-request comment for each changed deployment (recorded previews), and nothing when nothing changes", async () => {
    const created = renderSummaryMarkdown(summarizePreview("test", recorded("create.json")));
    const block = /#### sqlite database app\n\n```mermaid\n([\s\S]*?)```/.exec(created);
    expect(block).not.toBeNull();
    const { vertices, edges } = await parse(block![1]);
    expect([...vertices.values()].map((v) => v.text)).toEqual(["file (added)", "backups: 0 2 * * *, kept 30 days (added)"]);
    expect(edges.map((e) => [e.start, e.end])).toEqual([["primary", "backup0"]]);
    const removed = renderSummaryMarkdown(summarizePreview("test", recorded("database-removed.json")));
    const gone = await parse(/```mermaid\n([\s\S]*?)```/.exec(removed)![1]);
    expect([...gone.vertices.values()].map((v) => v.classes)).toEqual([["removed"], ["removed"]]);
    expect(renderSummaryMarkdown(summarizePreview("test", recorded("no-changes.json")))).not.toContain("mermaid");
  });
});
