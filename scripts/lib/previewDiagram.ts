/**
 * A Mermaid flowchart per deployment that a preview changes, for the pull-request comment (GitHub
 * renders Mermaid): the primary (or SQLite file) and its host, each standby or replica and its
 * host, the backups and where they go, the exporters (declared metrics); what the change adds, replaces, removes or updates is
 * marked. Read only from what the steps declare for review (`review`) and where they run
 * (`target`): never a secret. Pure.
 */
import type { ReviewFacts } from "../../components/model/reviewFacts";
import type { Target } from "../../components/model/target";
import { describeTarget } from "../../components/targets/target";

/** The part of an engine event the diagram reads (every op, `same` included). */
export interface DiagramEvent {
  resourcePreEvent?: { metadata: { op: string; urn: string; type: string; old?: DiagramState | null; new?: DiagramState | null } };
}

interface DiagramState {
  inputs?: Record<string, unknown>;
}

export type Mark = "added" | "replaced" | "removed" | "changed" | "same";

const MARK_OF_OP: Record<string, Mark> = {
  create: "added",
  update: "changed",
  replace: "replaced",
  "create-replacement": "replaced",
  "delete-replaced": "replaced",
  "discard-replaced": "replaced",
  delete: "removed",
  same: "same",
};

/** One node of a deployment's picture. */
export interface DiagramNode {
  id: string;
  label: string;
  mark: Mark;
}

/** A deployment's picture before it is written as Mermaid. */
export interface DeploymentDiagram {
  component: string;
  nodes: DiagramNode[];
  edges: { from: string; to: string; label: string }[];
}

/**
 * A node's mark from its steps': added or removed when every step is; replaced when any step is;
 * changed when anything else changes; the same otherwise.
 */
function strongest(marks: Mark[]): Mark {
  if (marks.length > 0 && marks.every((m) => m === "removed")) return "removed";
  if (marks.length > 0 && marks.every((m) => m === "added")) return "added";
  if (marks.includes("replaced")) return "replaced";
  return marks.some((m) => m !== "same") ? "changed" : "same";
}

function hostOf(inputs: Record<string, unknown> | undefined): string | undefined {
  const t = inputs?.target as Target | undefined;
  if (!t || typeof t !== "object" || typeof t.kind !== "string") return undefined;
  try {
    return describeTarget(t);
  } catch {
    return undefined;
  }
}

interface Step {
  mark: Mark;
  review: ReviewFacts;
  inputs?: Record<string, unknown>;
}

/** The pictures of the components `changed` names, from a preview's events. */
export function decideDiagrams(events: DiagramEvent[], changed: Set<string>): DeploymentDiagram[] {
  const byComponent = new Map<string, Step[]>();
  for (const e of events) {
    const md = e.resourcePreEvent?.metadata;
    const mark = md && MARK_OF_OP[md.op];
    if (!md || !mark) continue;
    const state = md.new ?? md.old ?? undefined;
    const review = state?.inputs?.review as ReviewFacts | undefined;
    if (!review || typeof review !== "object" || typeof review.component !== "string" || !changed.has(review.component)) continue;
    byComponent.set(review.component, [...(byComponent.get(review.component) ?? []), { mark, review, inputs: state?.inputs }]);
  }
  return [...byComponent].sort(([a], [b]) => a.localeCompare(b)).map(([component, steps]) => diagramOf(component, steps));
}

function diagramOf(component: string, steps: Step[]): DeploymentDiagram {
  const own = steps.filter((s) => !s.review.standby && !s.review.backup && !s.review.exporter);
  // The instance (or SQLite file) is the step with an identity; without one, the data-bearing step.
  const instance = own.filter((s) => typeof s.inputs?.identity === "string");
  const core = instance.length ? instance : own.filter((s) => s.review.dataBearing);
  const host = own.map((s) => hostOf(s.inputs)).find((h) => h !== undefined);
  // What happens to the instance itself (added, replaced, removed) wins; otherwise any change of its steps (configuration, accounts ...).
  const instanceMark = strongest(core.map((s) => s.mark));
  const primaryMark = ["added", "replaced", "removed"].includes(instanceMark) ? instanceMark : strongest(own.map((s) => s.mark));
  const nodes: DiagramNode[] = [{ id: "primary", label: `${component.startsWith("sqlite") ? "file" : "primary"}${host ? ` on ${host}` : ""}`, mark: primaryMark }];
  const edges: DeploymentDiagram["edges"] = [];
  const standbys = [...new Set(steps.filter((s) => s.review.standby).map((s) => s.review.standby!))].sort();
  standbys.forEach((name, i) => {
    const mine = steps.filter((s) => s.review.standby === name);
    const where = mine.map((s) => hostOf(s.inputs)).find((h) => h !== undefined);
    nodes.push({ id: `standby${i}`, label: `standby ${name}${where ? ` on ${where}` : ""}`, mark: strongest(mine.map((s) => s.mark)) });
    edges.push({ from: "primary", to: `standby${i}`, label: "replicates to" });
  });
  steps
    .filter((s) => s.review.backup)
    .forEach((s, i) => {
      const b = s.review.backup!;
      nodes.push({ id: `backup${i}`, label: `backups: ${b.schedule}, kept ${b.retentionDays} days${hostOf(s.inputs) ? ` on ${hostOf(s.inputs)}` : ""}`, mark: s.mark });
      edges.push({ from: "primary", to: `backup${i}`, label: "backed up to" });
      // Where the backups go off the host (the program of offHostCommand, never its arguments).
      if (b.offHost) {
        nodes.push({ id: `offhost${i}`, label: `off the host by ${b.offHost}`, mark: s.mark });
        edges.push({ from: `backup${i}`, to: `offhost${i}`, label: "copied" });
      }
    });
  drawExporters(steps, standbys, nodes, edges);
  return { component, nodes, edges };
}

/** Each member's exporter (declared metrics), drawn beside the member it reads: one node for its steps (the exporter, and with TLS its key and certificate). */
function drawExporters(steps: Step[], standbys: string[], nodes: DiagramNode[], edges: DeploymentDiagram["edges"]): void {
  const byExporter = new Map<string, Step[]>();
  for (const s of steps.filter((x) => x.review.exporter)) {
    const e = s.review.exporter!;
    const key = `${e.member}\0${e.name}\0${e.listen}`;
    byExporter.set(key, [...(byExporter.get(key) ?? []), s]);
  }
  [...byExporter.values()].forEach((mine, i) => {
    const e = mine[0].review.exporter!;
    const member = e.member === "primary" ? "primary" : `standby${standbys.indexOf(e.member)}`;
    nodes.push({ id: `exporter${i}`, label: `${e.name} on ${e.listen}`, mark: strongest(mine.map((s) => s.mark)) });
    edges.push({ from: standbys.includes(e.member) || e.member === "primary" ? member : "primary", to: `exporter${i}`, label: "metrics from" });
  });
}

/** Text Mermaid shows as is inside a quoted label (quotes and markup characters as entities). */
function labelText(text: string): string {
  return text.replace(/[#"<>&`]/g, (c) => `#${c.charCodeAt(0)};`);
}

const STYLE: Record<Exclude<Mark, "same">, string> = {
  added: "fill:#dafbe1,stroke:#1a7f37",
  replaced: "fill:#fff1c2,stroke:#9a6700,stroke-width:3px",
  removed: "fill:#ffebe9,stroke:#cf222e,stroke-dasharray:5 5",
  changed: "fill:#ddf4ff,stroke:#0969da",
};

/** The Mermaid flowchart of one deployment (without the ``` fence). */
export function renderMermaid(d: DeploymentDiagram): string {
  const lines = ["flowchart LR"];
  for (const n of d.nodes) lines.push(`  ${n.id}["${labelText(n.mark === "same" ? n.label : `${n.label} (${n.mark})`)}"]${n.mark === "same" ? "" : `:::${n.mark}`}`);
  for (const e of d.edges) lines.push(`  ${e.from} -->|"${labelText(e.label)}"| ${e.to}`);
  const used = [...new Set(d.nodes.map((n) => n.mark))].filter((m): m is Exclude<Mark, "same"> => m !== "same");
  for (const m of used) lines.push(`  classDef ${m} ${STYLE[m]}`);
  return lines.join("\n") + "\n";
}
