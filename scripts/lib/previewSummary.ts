import { GRANT_RANK } from "../../components/model/grants";
import type { ReviewFacts } from "../../components/model/reviewFacts";
import { explainChange } from "./changeReasons";
import { decideDiagrams, renderMermaid, type DeploymentDiagram } from "./previewDiagram";

/** The part of a Pulumi engine event the summary reads (automation's EngineEvent is wider). */
export interface PreviewEvent {
  resourcePreEvent?: {
    metadata: {
      op: string;
      urn: string;
      type: string;
      old?: StepState | null;
      new?: StepState | null;
    };
  };
}

interface StepState {
  type?: string;
  urn?: string;
  parent?: string;
  inputs?: Record<string, unknown>;
}

type Kind = "create" | "update" | "replace" | "delete";

/** One change that needs a human's eye. */
export interface Flag {
  kind: "data" | "restart" | "grant" | "superuser" | "backup" | "standby" | "migration" | "import" | "failover";
  component: string;
  resource: string;
  message: string;
}

/** Why one resource is updated or replaced (scripts/lib/changeReasons.ts). */
export interface ChangeReason {
  component: string;
  resource: string;
  reason: string;
}

export interface PreviewSummary {
  stack: string;
  /** Per component: how many resources are created, updated, replaced, deleted. */
  counts: Map<string, Record<Kind, number>>;
  flags: Flag[];
  /** Every update and replacement, with what changed. */
  reasons: ChangeReason[];
  /** Per changed deployment: its picture (previewDiagram.ts). */
  diagrams?: DeploymentDiagram[];
  /** Per component with point-in-time recovery (changed or not): its recovery-point objective and drill schedule. */
  recovery?: Map<string, { rpoS: number; drillSchedule: string }>;
}

const OP_KIND: Record<string, Kind | undefined> = {
  create: "create",
  update: "update",
  replace: "replace",
  "create-replacement": "replace",
  "delete-replaced": "replace",
  delete: "delete",
  "discard-replaced": "replace",
};

/**
 * Summarizes a preview's events: counts per component, and the flagged changes. Flags come only
 * from the `review` facts components declare on their resources (never from names), and only
 * those facts are printed, so secrets in inputs never reach the summary.
 */
export function summarizePreview(stack: string, events: PreviewEvent[]): PreviewSummary {
  const steps = new Map<string, { kinds: Set<Kind>; type: string; old?: StepState; new?: StepState }>();
  const recovery = new Map<string, { rpoS: number; drillSchedule: string }>();
  for (const event of events) {
    const md = event.resourcePreEvent?.metadata;
    if (!md) continue;
    const declared = md.op === "delete" ? undefined : reviewOf(md.new ?? undefined);
    if (declared?.pitr) recovery.set(declared.component, declared.pitr);
    const kind = OP_KIND[md.op];
    // Providers, the stack and dbstack's component resources (dbstack:<engine>:<Kind>) do nothing
    // on a host themselves: only their children's changes are counted.
    if (!kind || md.type.startsWith("pulumi:providers:") || md.type === "pulumi:pulumi:Stack" || md.type.startsWith("dbstack:")) continue;
    const step = steps.get(md.urn) ?? { kinds: new Set<Kind>(), type: md.type };
    step.kinds.add(kind);
    step.old = step.old ?? md.old ?? undefined;
    step.new = md.new ?? step.new;
    steps.set(md.urn, step);
  }

  const counts = new Map<string, Record<Kind, number>>();
  const flags: Flag[] = [];
  const reasons: ChangeReason[] = [];
  const modes: { component: string; resource: string; kind: Kind; facts?: ReviewFacts }[] = [];
  for (const [urn, step] of steps) {
    const kind: Kind = step.kinds.has("replace") ? "replace" : [...step.kinds][0];
    const oldFacts = reviewOf(step.old);
    const newFacts = reviewOf(step.new);
    const component = (newFacts ?? oldFacts)?.component ?? componentFromUrn(urn, step);
    const row = counts.get(component) ?? { create: 0, update: 0, replace: 0, delete: 0 };
    row[kind]++;
    counts.set(component, row);
    flags.push(...flagsFor(kind, component, resourceName(urn), oldFacts, newFacts));
    if (kind === "update" || kind === "replace") reasons.push({ component, resource: resourceName(urn), reason: explainChange(kind, step.old?.inputs, step.new?.inputs) });
    modes.push({ component, resource: resourceName(urn), kind, facts: newFacts ?? oldFacts });
  }
  flags.push(...modeChanges(modes));
  return { stack, counts, flags, reasons, recovery, diagrams: decideDiagrams(events, new Set(counts.keys())) };
}

/**
 * A deployment that changes mode: its plain configuration step deleted while Patroni's steps are
 * created (Patroni takes the running cluster over), or the other way round (HA removed).
 */
function modeChanges(steps: { component: string; resource: string; kind: Kind; facts?: ReviewFacts }[]): Flag[] {
  const flags: Flag[] = [];
  for (const component of new Set(steps.map((s) => s.component))) {
    const mine = steps.filter((s) => s.component === component);
    const plain = (kind: Kind) => mine.find((s) => s.kind === kind && s.facts?.restartParameters && !s.facts.patroni);
    const patroni = (kind: Kind) => mine.find((s) => s.kind === kind && s.facts?.patroni);
    const on = plain("delete") && patroni("create");
    const off = patroni("delete") && plain("create");
    if (on) flags.push({ kind: "failover", component, resource: on.resource, message: "high availability turned on: Patroni takes the running cluster and its standbys over (they restart once under Patroni; their data is kept)" });
    if (off) flags.push({ kind: "failover", component, resource: off.resource, message: "high availability turned off: Patroni stops managing the members, and the primary runs without automatic failover" });
  }
  return flags;
}

function flagsFor(kind: Kind, component: string, resource: string, old?: ReviewFacts, now?: ReviewFacts): Flag[] {
  const flags: Flag[] = [];
  const flag = (k: Flag["kind"], message: string) => flags.push({ kind: k, component, resource, message });
  const facts = now ?? old;

  if ((kind === "replace" || kind === "delete") && (old?.dataBearing || now?.dataBearing)) {
    const removal = (kind === "delete" ? old : now ?? old)?.dataRemovalAllowed;
    const fate = removal
      ? "**its data will be deleted** (allowDataRemoval is true)"
      : "its data is kept on the host (allowDataRemoval is false; to delete it, set allowDataRemoval and run `up` first: destroy uses the value recorded at the last up)";
    flag("data", kind === "delete" ? `data-bearing resource deleted: ${fate}` : `data-bearing resource replaced: a new, empty one is created; ${fate}`);
  }
  // Destroy runs the delete steps recorded by the last up: this up is what lets the next destroy delete data.
  if (kind === "update" && old?.dataBearing && !old.dataRemovalAllowed && now?.dataRemovalAllowed) {
    flag("data", "allowDataRemoval turned on: after this up, **destroy deletes this data** (destroy uses the value recorded at the last up)");
  }
  if (kind === "update" && old?.dataBearing && old.dataRemovalAllowed && now && !now.dataRemovalAllowed) {
    flag("data", "allowDataRemoval turned off: after this up, destroy keeps this data");
  }
  if ((kind === "update" || kind === "replace") && facts?.restartsDatabase) flag("restart", "the database server restarts to apply this change");
  if (kind === "update" && old?.restartParameters && now?.restartParameters) {
    const names = new Set([...Object.keys(old.restartParameters), ...Object.keys(now.restartParameters)]);
    const changed = [...names].filter((n) => old.restartParameters![n] !== now.restartParameters![n]).sort();
    if (changed.length > 0) {
      const detail = changed.map((n) => `${n} ${old.restartParameters![n] ?? "(default)"} → ${now.restartParameters![n] ?? "(default)"}`);
      flag("restart", now.patroni ? `${now.patroni}: ${detail.join(", ")}` : `the database server restarts: ${detail.join(", ")}`);
    }
  }
  // A Patroni member's own step (not its dynamic configuration, which restarts in place).
  if ((kind === "update" || kind === "replace") && now?.patroni && !now.restartParameters) flag("failover", now.patroni);

  const oldGrants = old?.grants ?? {};
  for (const [user, grant] of Object.entries(kind === "delete" ? {} : now?.grants ?? {})) {
    const before = oldGrants[user];
    if (grant.superuser && !before?.superuser) flag("superuser", `new superuser: ${user}`);
    if (!before) flag("grant", `new grant: ${user} gets ${grant.role}`);
    else if (GRANT_RANK[grant.role] > GRANT_RANK[before.role]) flag("grant", `grant widened: ${user} from ${before.role} to ${grant.role}`);
  }

  if (kind === "delete" && old?.backup) flag("backup", `backup schedule removed (was ${old.backup.schedule}, kept ${old.backup.retentionDays} days)`);
  if (old?.backup && now?.backup && now.backup.retentionDays < old.backup.retentionDays) {
    flag("backup", `backup retention shortened from ${old.backup.retentionDays} to ${now.backup.retentionDays} days`);
  }
  if (kind === "delete" && old?.pitr) flag("backup", `point-in-time recovery removed (was RPO ${old.pitr.rpoS} s, drill ${old.pitr.drillSchedule}); the repository is kept unless data removal is allowed`);
  if (old?.pitr && now?.pitr && now.pitr.rpoS > old.pitr.rpoS) flag("backup", `recovery-point objective lengthened from ${old.pitr.rpoS} s to ${now.pitr.rpoS} s`);
  if (kind === "delete" && old?.standby) flag("standby", `standby removed: ${old.standby}`);

  if (kind !== "delete" && now?.migrations) {
    const before = new Set(old?.migrations ?? []);
    const added = now.migrations.filter((m) => !before.has(m));
    if (added.length > 0) flag("migration", `migration${added.length > 1 ? "s" : ""} added: ${added.join(", ")}`);
  }

  // An import copies only when its step is created; a changed source afterwards copies nothing, which a reviewer must know.
  if (kind === "create" && now?.dataImport) flag("import", `data copied from ${now.dataImport.source} into ${now.dataImport.target}`);
  if (kind === "replace" && now?.dataImport) flag("import", `data copied from ${now.dataImport.source} into ${now.dataImport.target} again: its instance is replaced by a new, empty one`);
  if (kind === "update" && old?.dataImport && now?.dataImport && old.dataImport.source !== now.dataImport.source) {
    flag("import", `importFrom changed from ${old.dataImport.source} to ${now.dataImport.source}: nothing is copied (${now.dataImport.target} was seeded when it was created)`);
  }
  return flags;
}

function reviewOf(state: StepState | undefined): ReviewFacts | undefined {
  const review = state?.inputs?.review;
  return review && typeof review === "object" && "component" in review ? (review as ReviewFacts) : undefined;
}

function resourceName(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

function componentFromUrn(urn: string, step: { type: string; new?: StepState; old?: StepState }): string {
  const parent = step.new?.parent ?? step.old?.parent;
  if (parent && !parent.includes("pulumi:pulumi:Stack")) return resourceName(parent);
  return `${step.type} ${resourceName(urn)}`;
}

const FLAG_LABEL: Record<Flag["kind"], string> = {
  data: "data",
  restart: "restart",
  failover: "failover",
  grant: "grant",
  superuser: "superuser",
  backup: "backup",
  standby: "standby",
  migration: "migration",
  import: "data import",
};

/** Markdown for a pull-request comment. */
export function renderSummaryMarkdown(summary: PreviewSummary): string {
  const lines = [`### dbstack preview: stack \`${summary.stack}\``, ""];
  if (summary.counts.size === 0) {
    lines.push("No changes.", ...renderRecovery(summary));
    return lines.join("\n") + "\n";
  }
  lines.push("| component | create | update | replace | delete |", "|---|---:|---:|---:|---:|");
  for (const [component, c] of [...summary.counts].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| ${escapeCell(component)} | ${c.create} | ${c.update} | ${c.replace} | ${c.delete} |`);
  }
  lines.push("");
  if (summary.flags.length === 0) {
    lines.push("Nothing flagged for review.");
  } else {
    lines.push(`#### Needs a human's eye (${summary.flags.length})`, "");
    for (const f of summary.flags) {
      lines.push(`- **${FLAG_LABEL[f.kind]}**: ${escapeCell(f.component)} (\`${f.resource}\`): ${f.message}`);
    }
  }
  if (summary.reasons.length > 0) {
    lines.push("", `<details><summary>Why each update and replacement (${summary.reasons.length})</summary>`, "");
    for (const r of summary.reasons) lines.push(`- ${escapeCell(r.component)} (\`${r.resource}\`): ${r.reason}`);
    lines.push("", "</details>");
  }
  for (const d of summary.diagrams ?? []) lines.push("", `#### ${d.component}`, "", "```mermaid", renderMermaid(d).trimEnd(), "```");
  lines.push(...renderRecovery(summary));
  return lines.join("\n") + "\n";
}

/** The recovery objectives of the deployments with point-in-time recovery, as declared. */
function renderRecovery(summary: PreviewSummary): string[] {
  const rows = [...(summary.recovery ?? [])].sort(([a], [b]) => a.localeCompare(b));
  if (rows.length === 0) return [];
  return ["", "#### Recovery objectives", "", ...rows.map(([c, r]) => `- ${escapeCell(c)}: recovery point within ${r.rpoS} s (pitr.archiveTimeoutS), restore drill \`${r.drillSchedule}\``)];
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** The part of an engine event a failed preview's summary reads. */
interface DiagnosticEventLike {
  diagnosticEvent?: { message: string; severity: string; urn?: string };
}

/**
 * Why a preview failed, said once: the engine's error diagnostics when it reported any (what the
 * program or a provider said), else the stderr part of the CLI's error. The automation API's error
 * message repeats the CLI's whole stdout and stderr and adds its own command line: none of that
 * is printed twice, and the command line not at all.
 */
export function previewFailureText(events: DiagnosticEventLike[], errorMessage: string): string {
  const diagnostics = [
    ...new Set(
      events
        .map((e) => e.diagnosticEvent)
        .filter((d): d is NonNullable<typeof d> => !!d && d.severity === "error")
        .map((d) => d.message.replace(/\u001b\[[0-9;]*m|<\{%[^%]*%\}>/g, "").trim())
        .filter((m) => m !== ""),
    ),
  ];
  if (diagnostics.length > 0) return diagnostics.join("\n");
  const stderr = /\n stderr: ([\s\S]*?)\n err\?: /.exec(errorMessage)?.[1];
  const text = (stderr ?? errorMessage).replace(/\n\t/g, "\n").trim();
  return text.split("\n").slice(-30).join("\n");
}

/** The comment for a preview that failed. */
export function renderFailureMarkdown(stack: string, why: string): string {
  return `### dbstack preview: stack \`${stack}\`\n\nThe preview failed:\n\n\`\`\`\n${why.replace(/```/g, "'''")}\n\`\`\`\n`;
}
