/**
 * How long a no-change `pulumi up` takes, against an empty TypeScript program with the same CLI
 * and backend: the dev stack (one SQLite database), a local PostgreSQL stack with a standby, two
 * databases and three users, and SQLite stacks of 1, 10 and 50 databases to see how the time grows
 * with what is declared. Programs are timed in turn (A B C … A B C …), so drift on the machine
 * falls on all of them alike; medians of each.
 *
 *   npm run bench:deploy [-- --runs 5]
 *
 * Prints the medians, then one line:
 *   noop_ratio_dev=<dev/empty> noop_ratio_pg=<pg/empty> per_resource_ms=<growth per resource>
 * where "empty" is the empty program as Pulumi runs TypeScript by default (type-checked); the
 * ratios against a transpile-only empty program are printed above it.
 */
import { execFileSync, spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { ensurePulumiOnPath, pulumiEnv, ROOT } from "../scripts/lib/env";

const RUNS = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;
const work = mkdtempSync(join(tmpdir(), "dbstack-bench-deploy-"));

interface Program {
  name: string;
  dir: string;
  stack: string;
  /** HostCommands and other resources the program declares, for the growth figure. */
  resources?: number;
  config?: Record<string, unknown>;
}

/** A project directory that runs dbstack's program (stacks/index.ts) with its own stack file. */
function dbstackProject(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const entry of ["Pulumi.yaml", "package.json", "tsconfig.json", "node_modules", "stacks", "components", "examples"]) {
    symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  return dir;
}

/**
 * The smallest TypeScript Pulumi program, run the same way (same CLI, language host, backend):
 * type-checked on every run as Pulumi does by default (`empty-tc`, the baseline the ratios use),
 * and transpiled only, like dbstack's program (`empty`: the engine and Node.js start-up alone).
 */
function emptyProject(name: string, typeCheck: boolean): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "Pulumi.yaml"), "name: empty\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
  writeFileSync(join(dir, "index.ts"), 'import * as pulumi from "@pulumi/pulumi";\nexport const stack = pulumi.getStack();\n');
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true, noCheck: !typeCheck } }));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  symlinkSync(join(ROOT, "package.json"), join(dir, "package.json"));
  return dir;
}

function sqliteDbs(n: number, base: string): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`db${i}`, { path: join(base, `db${i}`, "db.db"), toolsDir: join(base, "tools", `db${i}`) }]));
}

const programs: Program[] = [
  { name: "empty", dir: emptyProject("empty", false), stack: "bench" },
  // The same program as `pulumi new typescript` runs it: ts-node type-checks it on every run.
  { name: "empty-tc", dir: emptyProject("empty-tc", true), stack: "bench" },
  {
    name: "dev",
    dir: dbstackProject("dev"),
    stack: "bench",
    config: {
      sqlite: {
        app: {
          path: join(work, "dev-data", "app.db"),
          toolsDir: join(work, "dev-tools"),
          pragmas: { journalMode: "wal", synchronous: "normal", busyTimeoutMs: 5000, foreignKeys: true },
          backup: { schedule: "0 2 * * *", dir: join(work, "dev-backups"), retentionDays: 30 },
          migrations: { dir: "examples/app/migrations" },
          healthChecks: [{ name: "users table", sql: "SELECT count(*) >= 0 FROM users", expect: "1" }],
        },
      },
    },
  },
  {
    name: "pg",
    dir: dbstackProject("pg"),
    stack: "bench",
    config: {
      postgres: {
        bdeploy: {
          instanceName: `bdeploy${process.pid % 1000}`,
          port: 5531,
          hostFacts: { memoryMb: 1024, cpus: 2 },
          maxConnections: 40,
          databases: { app: { owner: "app" }, reports: { owner: "reporter" } },
          users: { app: { grants: { app: "owner" } }, reporter: { grants: { reports: "owner", app: "readonly" } }, ro: { grants: { app: "readonly", reports: "readonly" } } },
          backup: { dir: join(work, "pg-backups") },
          toolsDir: join(work, "pg-tools"),
          standbys: { replica: { host: "local", address: "127.0.0.1", instanceName: `bdeployr${process.pid % 1000}`, port: 5532 } },
        },
      },
    },
  },
  ...[1, 10, 50].map((n) => ({ name: `sqlite-${n}`, dir: dbstackProject(`sqlite-${n}`), stack: "bench", resources: 3 * n, config: { sqlite: sqliteDbs(n, join(work, `g${n}`)) } })),
];

function pulumi(p: Program, args: string[], allowFailure = false): { ms: number; stdout: string } {
  const env = { ...process.env, ...pulumiEnv(p.stack, { PULUMI_BACKEND_URL: `file://${join(work, "state", p.name)}` }) };
  const started = process.hrtime.bigint();
  const r = spawnSync("pulumi", [...args, "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env, encoding: "utf8", maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0 && !allowFailure) throw new Error(`pulumi ${args.join(" ")} (${p.name}) failed:\n${r.stdout}\n${r.stderr}`);
  return { ms, stdout: r.stdout };
}

function setConfig(p: Program, config: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(config)) pulumi(p, ["config", "set", `dbstack:${key}`, typeof value === "string" ? value : JSON.stringify(value)]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  ensurePulumiOnPath();
  console.log(`bench:deploy: ${programs.length} programs, ${RUNS} no-change runs each, in turn; work dir ${work}`);
  for (const p of programs) {
    mkdirSync(join(work, "state", p.name), { recursive: true });
    pulumi(p, ["stack", "init"]);
    if (p.config) setConfig(p, p.config);
    const first = pulumi(p, ["up", "--yes", "--skip-preview"]);
    console.log(`  ${p.name}: first up ${(first.ms / 1000).toFixed(1)} s`);
  }
  const times = new Map<string, number[]>(programs.map((p) => [p.name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const p of programs) times.get(p.name)!.push(pulumi(p, ["up", "--yes", "--skip-preview"]).ms);
  }
  // A no-change up must be one: the preview after the runs expects no changes.
  for (const p of programs) pulumi(p, ["preview", "--expect-no-changes"]);

  const med = Object.fromEntries([...times].map(([name, xs]) => [name, median(xs)]));
  for (const p of programs) console.log(`  ${p.name.padEnd(10)} median ${(med[p.name] / 1000).toFixed(2)} s  runs ${times.get(p.name)!.map((x) => (x / 1000).toFixed(2)).join(" ")}`);
  const perResource = (med["sqlite-50"] - med["sqlite-1"]) / (150 - 3);
  const perResource10 = (med["sqlite-10"] - med["sqlite-1"]) / (30 - 3);
  console.log(`  growth: ${perResource10.toFixed(1)} ms per resource from 1 to 10 databases, ${perResource.toFixed(1)} ms from 1 to 50 (3 resources each)`);
  console.log(`  against the transpile-only empty program: dev ${(med.dev / med.empty).toFixed(2)}x, pg ${(med.pg / med.empty).toFixed(2)}x`);
  console.log(
    `noop_ratio_dev=${(med.dev / med["empty-tc"]).toFixed(2)} noop_ratio_pg=${(med.pg / med["empty-tc"]).toFixed(2)} per_resource_ms=${perResource.toFixed(1)}`,
  );
}

function cleanup(): void {
  for (const p of programs) {
    if (p.config) {
      // destroy runs the delete steps the last up stored: an up with data removal allowed first, so
      // that the bench's clusters and files go too.
      pulumi(p, ["config", "set", "dbstack:allowDataRemoval", "true"], true);
      pulumi(p, ["up", "--yes", "--skip-preview"], true);
      pulumi(p, ["destroy", "--yes", "--skip-preview"], true);
    }
  }
  rmSync(work, { recursive: true, force: true });
}

try {
  main();
} finally {
  cleanup();
  execFileSync("true");
}
