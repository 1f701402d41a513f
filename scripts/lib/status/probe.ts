/**
 * Turns what a member's probe printed (engines/<engine>/monitoring.ts, backups/probe.ts: one
 * fact a line, tab-separated) into the member's status. Pure: `now` is given.
 */
import type { BackupFacts, DrillRecord, EngineName, HookRecord, LongTransaction, MemberStatus, SlowStatement } from "./report";

/** The facts of one probe run, before they are judged. */
export type ProbeFacts = Omit<MemberStatus, "deployment" | "engine" | "member" | "declaredRole" | "where">;

/** The lines of a probe's output, by their first field; the rest of each line, split on tabs. */
function factLines(stdout: string): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const line of stdout.split("\n")) {
    if (!line.trim()) continue;
    const [key, ...rest] = line.split("\t");
    out.set(key, [...(out.get(key) ?? []), rest]);
  }
  return out;
}

function num(v: unknown): number | undefined {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The backup facts, when the probe looked at backups. */
function backupFacts(lines: Map<string, string[][]>, maxAgeHours: number | undefined, now: Date): BackupFacts | undefined {
  const b = lines.get("backup")?.[0];
  if (!b || maxAgeHours === undefined) return undefined;
  const facts: BackupFacts = { count: num(lines.get("backups")?.[0]?.[0]) ?? 0, maxAgeHours };
  const dirTime = num(lines.get("backupdir")?.[0]?.[0]);
  if (b[0] !== "none" && b.length >= 3) {
    const t = Number(b[0]) * 1000;
    facts.newest = { file: b[2], time: new Date(t).toISOString(), bytes: num(b[1]) ?? 0, ageHours: Math.max(0, (now.getTime() - t) / 3_600_000) };
  } else if (dirTime !== undefined) {
    facts.emptyForHours = Math.max(0, (now.getTime() - dirTime * 1000) / 3_600_000);
  }
  return facts;
}

/** The last drill's record: null when none is recorded; a record that cannot be read counts as failed. */
function drillFacts(lines: Map<string, string[][]>): DrillRecord | null {
  const d = lines.get("drill")?.[0]?.[0];
  if (d === undefined) return null;
  return (parseJson(d) as DrillRecord | undefined) ?? { ok: false, reason: "its record (drills/last.json) is not JSON" };
}

function list<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/** A server member's facts from its `server` JSON (and MariaDB's `replica` and `dbsize` lines). */
function serverFacts(engine: Exclude<EngineName, "sqlite">, lines: Map<string, string[][]>): ProbeFacts {
  const down = lines.get("down")?.[0];
  const server = parseJson(lines.get("server")?.[0]?.join("\t"));
  if (down || !server) return { reachable: false, error: down?.join(" ").trim() || "the probe printed no status" };
  const facts: ProbeFacts = {
    reachable: true,
    version: typeof server.version === "string" ? server.version : undefined,
    uptimeS: num(server.uptimeS),
    connections: { used: num(server.connections) ?? 0, max: num(server.maxConnections) ?? 0 },
    longTransactions: list<LongTransaction>(server.longTransactions),
    slowest: server.slowest === null || server.slowest === undefined ? (engine === "postgres" ? null : []) : list<SlowStatement>(server.slowest),
  };
  if (engine === "postgres") {
    facts.role = server.role === "standby" ? "standby" : "primary";
    facts.databases = list<{ name: string; bytes: number }>(server.databases);
    facts.pendingRestart = list<string>(server.pendingRestart);
    if (facts.role === "standby") facts.lag = { bytes: num(server.lagBytes) ?? null, seconds: num(server.lagSeconds) ?? null, replicating: server.streaming === true };
    return facts;
  }
  const replica = Object.fromEntries((lines.get("replica") ?? []).map(([k, ...v]) => [k, v.join("\t")]));
  facts.databases = (lines.get("dbsize") ?? []).map(([name, bytes]) => ({ name, bytes: num(bytes) ?? 0 }));
  if (Object.keys(replica).length > 0) {
    facts.role = "replica";
    const running = replica.Slave_IO_Running === "Yes" && replica.Slave_SQL_Running === "Yes";
    const error = [replica.Last_IO_Error, replica.Last_SQL_Error].filter((e) => e && e.trim()).join("; ");
    facts.lag = { bytes: null, seconds: num(replica.Seconds_Behind_Master) ?? null, replicating: running, ...(error ? { error } : {}) };
  } else {
    facts.role = server.readOnly === true ? "primary (read-only)" : "primary";
  }
  return facts;
}

/** An SQLite file's facts. */
function sqliteFacts(lines: Map<string, string[][]>): ProbeFacts {
  const down = lines.get("down")?.[0];
  const file = lines.get("file")?.[0];
  if (down || !file) return { reachable: false, error: down?.join(" ").trim() || "the probe printed no file facts" };
  const quick = lines.get("quick_check")?.[0]?.join(" ").replace(/;\s*$/, "").trim();
  const wal = lines.get("wal")?.[0] ?? [];
  const fileTime = num(file[1]) ?? 0;
  const mode = lines.get("mode")?.[0]?.[0];
  const journalMode = mode === "wal" || mode === "rollback" ? mode : undefined;
  const iso = (s: number) => new Date(s * 1000).toISOString();
  return {
    reachable: true,
    role: "file",
    sqlite: {
      bytes: num(file[0]) ?? 0,
      walBytes: num(wal[0]) ?? 0,
      modifiedAt: iso(Math.max(fileTime, num(wal[1]) ?? 0)),
      ...(journalMode === undefined ? {} : { journalMode }),
      ...(journalMode === "wal" ? { lastCheckpointAt: iso(fileTime) } : {}),
      ...(quick === undefined ? {} : { quickCheck: quick }),
    },
  };
}

/** Each database's last hook record; one that cannot be read counts as failed. */
function hookFacts(lines: Map<string, string[][]>): HookRecord[] | undefined {
  const records = lines.get("hook");
  if (!records) return undefined;
  return records.map(([database, json]) => {
    const r = parseJson(json);
    if (!r || typeof r.ok !== "boolean") return { database, ok: false };
    return {
      database,
      ok: r.ok,
      ...(num(r.exitCode) === undefined ? {} : { exitCode: num(r.exitCode) }),
      ...(typeof r.finishedAt === "string" ? { finishedAt: r.finishedAt } : {}),
      ...(num(r.durationS) === undefined ? {} : { durationS: num(r.durationS) }),
    };
  });
}

/**
 * A member's facts from its probe's output. `maxAgeHours`: the deployment's backup bound, when
 * backups are declared and this member's host keeps them. Drill facts are read whenever the probe
 * printed a record (a backup directory's, or a point-in-time recovery repository's).
 */
export function parseProbeOutput(engine: EngineName, stdout: string, opts: { maxAgeHours?: number; now: Date }): ProbeFacts {
  const lines = factLines(stdout);
  const hooks = hookFacts(lines);
  const facts = { ...(engine === "sqlite" ? sqliteFacts(lines) : serverFacts(engine, lines)), ...(hooks ? { hooks } : {}) };
  const backup = backupFacts(lines, opts.maxAgeHours, opts.now);
  // A drill is recorded with backups, or by point-in-time recovery (which may have no nightly backups).
  const drill = drillFacts(lines);
  if (backup) return { ...facts, backup, drill };
  return drill ? { ...facts, drill } : facts;
}
