/**
 * The status screen: a compact table per deployment, then the problems. Colours only when asked
 * (a terminal); plain text in a pipe. Pure.
 */
import { memberLabel, type MemberStatus, type StatusReport } from "./report";

type Paint = (code: number, text: string) => string;

function painter(color: boolean): Paint {
  return (code, text) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
}

/** Bytes for people: 812 B, 7.4 MB, 1.2 GB. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "-";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A duration for people: 42 s, 5 min, 3 h 12 min, 4 d 2 h. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "-";
  const s = Math.round(seconds);
  if (s < 120) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Columns padded to their widest cell. */
function table(rows: string[][], visible: (s: string) => number): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => visible(r[c] ?? ""))));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell + " ".repeat(widths[c] - visible(cell)))).join("  ").trimEnd());
}

const visibleLength = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "").length;

function lagCell(m: MemberStatus): string {
  if (!m.lag) return "-";
  return `${formatBytes(m.lag.bytes)} / ${formatDuration(m.lag.seconds)}`;
}

function memberRow(m: MemberStatus, paint: Paint): string[] {
  const state = m.reachable ? paint(32, "up") : paint(31, "DOWN");
  const role = m.role ?? m.declaredRole;
  const conn = m.connections ? `${m.connections.used}/${m.connections.max}` : "-";
  return [m.member, state, role, m.where, m.version ?? "-", formatDuration(m.uptimeS), conn, lagCell(m)];
}

/** An SQLite file's journal mode and, in WAL mode, its last checkpoint. */
function sqliteCheckpoint(s: NonNullable<MemberStatus["sqlite"]>): string {
  if (s.journalMode === "wal") return `, WAL mode, last checkpoint ${s.lastCheckpointAt ?? "-"}`;
  return s.journalMode === "rollback" ? ", rollback journal (no checkpoints)" : "";
}

/** The lines under a deployment's table: sizes, backups, drill, sessions, slow statements. */
function detailLines(m: MemberStatus, paint: Paint): string[] {
  const out: string[] = [];
  const at = `${m.member}:`;
  if (m.databases && m.databases.length) out.push(`${at} databases ${m.databases.map((d) => `${d.name} ${formatBytes(d.bytes)}`).join(", ")}`);
  if (m.sqlite) out.push(`${at} file ${formatBytes(m.sqlite.bytes)}, WAL ${formatBytes(m.sqlite.walBytes)}, written ${m.sqlite.modifiedAt}${sqliteCheckpoint(m.sqlite)}${m.sqlite.quickCheck === undefined ? "" : `, quick_check ${m.sqlite.quickCheck === "ok" ? paint(32, "ok") : paint(31, m.sqlite.quickCheck)}`}`);
  if (m.lag?.error) out.push(`${at} ${paint(31, `replication error: ${m.lag.error}`)}`);
  if (m.backup) {
    const b = m.backup;
    const newest = b.newest
      ? `${b.newest.file} at ${b.newest.time} (${b.newest.ageHours.toFixed(1)} h ago, ${formatBytes(b.newest.bytes)})`
      : "none yet";
    const late = b.newest ? b.newest.ageHours > b.maxAgeHours : b.emptyForHours === undefined || b.emptyForHours > b.maxAgeHours;
    out.push(`${at} backup ${late ? paint(31, newest) : newest}; ${b.count} kept; bound ${b.maxAgeHours} h`);
  }
  if (m.drill !== undefined) {
    const d = m.drill;
    out.push(`${at} drill ${d === null ? "no drill declared" : `${d.ok ? paint(32, "ok") : paint(31, "FAILED")} ${d.startedAt ?? ""}${d.durationS === undefined ? "" : ` in ${d.durationS} s`}${d.recoveryPoint ? `, recovered to ${d.recoveryPoint}` : ""}${d.reason ? `: ${d.reason}` : ""}`}`);
  }
  if (m.hooks && m.hooks.length) out.push(`${at} hooks ${m.hooks.map((h) => `${h.database} ${h.ok ? paint(32, "ok") : paint(31, `FAILED${h.exitCode === undefined ? "" : ` (exit ${h.exitCode})`}`)}${h.finishedAt ? ` ${h.finishedAt}` : ""}${h.durationS === undefined ? "" : ` in ${h.durationS} s`}`).join(", ")}`);
  if (m.pendingRestart && m.pendingRestart.length) out.push(`${at} ${paint(33, `waiting for a restart: ${m.pendingRestart.join(", ")}`)}`);
  for (const t of m.longTransactions ?? []) out.push(`${at} ${paint(33, `long transaction: pid ${t.pid} ${t.user ?? "?"}@${t.database ?? "?"} ${t.state ?? ""} for ${formatDuration(t.seconds)}`)}`);
  if (m.slowest && m.slowest.length) {
    out.push(`${at} slowest statements:`);
    for (const s of m.slowest) out.push(`    ${String(s.maxMs).padStart(9)} ms max ${String(s.meanMs).padStart(9)} ms mean ${String(s.calls).padStart(6)} calls  ${s.query}`);
  }
  return out;
}

/** The whole screen. */
export function renderStatusScreen(report: StatusReport, opts: { color: boolean }): string {
  const paint = painter(opts.color);
  const lines = [paint(1, `dbstack status: stack ${report.stack} at ${report.at}`), ""];
  const byDeployment = new Map<string, MemberStatus[]>();
  for (const m of report.members) {
    const key = `${m.engine} ${m.deployment}`;
    byDeployment.set(key, [...(byDeployment.get(key) ?? []), m]);
  }
  if (byDeployment.size === 0) lines.push("no deployments (has the stack been up'd?)", "");
  for (const [key, members] of byDeployment) {
    lines.push(paint(1, key));
    const rows = [["MEMBER", "STATE", "ROLE", "HOST", "VERSION", "UPTIME", "CONN", "LAG (BYTES / TIME)"], ...members.map((m) => memberRow(m, paint))];
    lines.push(...table(rows, visibleLength).map((l) => `  ${l}`));
    lines.push(...members.flatMap((m) => detailLines(m, paint)).map((l) => `  ${l}`));
    lines.push("");
  }
  if (report.problems.length === 0) lines.push(paint(32, "no problems"));
  else lines.push(paint(31, `${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}:`), ...report.problems.map((p) => `  ${paint(31, "✗")} ${p}`));
  return lines.join("\n") + "\n";
}

export { memberLabel };
