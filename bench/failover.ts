/**
 * bench:failover — how long a PostgreSQL deployment under Patroni is without a primary when the
 * primary's host crashes, and what that costs, synchronous and asynchronous side by side.
 *
 * One Patroni cluster on etcd, built from dbstack's HA renderers on three namespace hosts
 * (ha-b1..3; ports 6421–6423, REST 6430, etcd 6481/6482), a writer inserting numbered rows through
 * the multi-host URL without pause, and a watcher asking every member every 100 ms, through its own
 * address, whether it accepts writes. Then `--kills` rounds, each killing the leader (SIGKILL of its
 * supervisor, Patroni and postmaster) once with synchronous_mode on and once with it off, alternating:
 * - failover time: from the kill until the writer's first commit acknowledged by another member;
 * - lost commits: acknowledged rows the new leader does not have;
 * - split brain: 100 ms samples in which two members accepted writes.
 * After each kill the old leader's step runs again and it rejoins as a standby before the next.
 *
 * Prints each kill, then `failover_s=<median> lost_commits=<sum> split_brain=<count>` for the
 * synchronous mode, and the same line prefixed `async` for the asynchronous one.
 * Usage: npm run bench:failover -- [--kills N] (default 5). Root only (namespaces, daemons).
 */
import { parseArgs } from "util";
import { multiHostUrls } from "../components/engines/postgres/ha/urls";
import { APP_PASSWORD, HaCluster, missingTool } from "../test/integration/support/haCluster";
import { benchOptions, wholeOption } from "./lib/start";

const USAGE = "usage: npm run bench:failover -- [--kills N]   (N kills of the primary per mode, 1-20, default 5)";

interface Round {
  mode: "sync" | "async";
  seconds: number;
  lost: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function summary(rounds: Round[], splits: number): string {
  return `failover_s=${median(rounds.map((r) => r.seconds)).toFixed(1)} lost_commits=${rounds.reduce((a, r) => a + r.lost, 0)} split_brain=${splits}`;
}

async function killOnce(ha: HaCluster, mode: Round["mode"], lostBefore: Set<number>): Promise<Round> {
  const old = await ha.until("a leader", () => ha.leader(), 120);
  await ha.setSynchronous(old, mode === "sync");
  await ha.until("standbys following", () => ha.replicasFollow(old, mode === "sync"), 120);
  const before = ha.acks().length;
  await ha.until("commits before the kill", () => (ha.acks().length > before + 20 ? true : undefined), 60);
  const killedAt = Date.now() / 1000;
  ha.crash(ha.memberOf(old));
  const oldPort = ha.memberOf(old).port;
  const first = await ha.until("a commit on the new leader", () => ha.acks().find((a) => a.t > killedAt && a.port !== oldPort), 180);
  const next = await ha.until("a new leader", () => {
    const l = ha.leader();
    return l && l !== old ? l : undefined;
  }, 60);
  const lost = ha.lostRows(next).filter((n) => !lostBefore.has(n));
  lost.forEach((n) => lostBefore.add(n));
  await ha.memberStep(ha.memberOf(old));
  await ha.until("the old leader rejoins", () => ha.replicasFollow(next, false), 180);
  return { mode, seconds: first.t - killedAt, lost: lost.length };
}

async function main(): Promise<number> {
  const opts = benchOptions(
    (argv) => {
      const { values } = parseArgs({ args: argv, options: { kills: { type: "string", default: "5" }, help: { type: "boolean" } } });
      return values.help ? undefined : { kills: wholeOption("kills", values.kills as string, 1, 20) };
    },
    USAGE,
    "network namespaces and daemons",
    (m) => console.error(`bench: ${m}`),
  );
  if (typeof opts === "number") return opts;
  const missing = missingTool();
  if (missing) {
    console.error(`bench: ${missing} is missing`);
    return 1;
  }
  const ha = new HaCluster({ names: ["ha-b1", "ha-b2", "ha-b3"], scope: "benchha", firstPort: 6421, restApiPort: 6430, etcdClientPort: 6481, etcdPeerPort: 6482, root: "/etc/dbstack-bench-ha", pgRoot: "/var/lib/postgresql/dbstack-bench-ha", synchronous: true });
  const stop = () => void ha.destroy().finally(() => process.exit(130));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await ha.create();
    await ha.startEtcd();
    await ha.startPatroni();
    const first = await ha.until("a leader", () => ha.leader(), 120);
    await ha.until("standbys following", () => ha.replicasFollow(first), 120);
    ha.createTable(first);
    ha.startLoad(multiHostUrls({ user: "app", password: APP_PASSWORD, database: "postgres", members: ha.cluster.members }).postgresql);
    const rounds: Round[] = [];
    const lost = new Set<number>();
    const splitsOf: Record<Round["mode"], number> = { sync: 0, async: 0 };
    for (let i = 1; i <= opts.kills; i++) {
      for (const mode of ["sync", "async"] as const) {
        const splitsBefore = ha.splits().length;
        const r = await killOnce(ha, mode, lost);
        splitsOf[mode] += ha.splits().length - splitsBefore;
        rounds.push(r);
        console.log(`kill ${i} ${mode}: failover ${r.seconds.toFixed(1)} s, lost commits ${r.lost}`);
      }
    }
    console.log(`ttl=${ha.cluster.ttlSeconds}s loop_wait=${ha.cluster.loopWaitSeconds}s retry_timeout=${ha.cluster.retryTimeoutSeconds}s commits=${ha.acks().length}`);
    console.log(summary(rounds.filter((r) => r.mode === "sync"), splitsOf.sync));
    console.log(`async ${summary(rounds.filter((r) => r.mode === "async"), splitsOf.async)}`);
    return 0;
  } finally {
    await ha.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
