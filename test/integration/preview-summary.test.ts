import { spawnSync } from "child_process";
import { rmSync } from "fs";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, sandbox, setConfig, writeMigration } from "./harness";

const box = sandbox("preview");
const migrations = join(box.dir, "migrations");
const app = (backup: Record<string, unknown>) => ({
  path: join(box.dir, "data/app.db"),
  toolsDir: join(box.dir, "tools"),
  backup: { dir: join(box.dir, "backups"), ...backup },
  migrations: { dir: migrations },
});

/** `npm run preview:summary -- --stack <name>` against the sandbox project and backend. */
function previewSummary(stack: string): { code: number | null; markdown: string; stderr: string } {
  const result = spawnSync(
    "node",
    ["-r", "ts-node/register/transpile-only", "scripts/preview-summary.ts", "--stack", stack, "--cwd", box.projectDir],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, PULUMI_BACKEND_URL: `file://${join(box.dir, "state")}` } },
  );
  return { code: result.status, markdown: result.stdout, stderr: result.stderr };
}

afterAll(() => rmSync(box.dir, { recursive: true, force: true }));

describe("npm run preview:summary on a real preview", () => {
  it("summarizes a deployed stack's pending changes and flags the risky ones", async () => {
    writeMigration(migrations, "0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
    const stack = await box.stack("pr", { sqlite: { app: app({ retentionDays: 30 }) } });
    await stack.up();

    expect(previewSummary("pr").markdown).toContain("No changes.");

    writeMigration(migrations, "0002_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n");
    await setConfig(stack, { sqlite: { app: app({ retentionDays: 7 }) } });
    const { code, markdown, stderr } = previewSummary("pr");
    expect(code, stderr).toBe(0);
    expect(markdown).toContain("| sqlite database app | 0 | 3 | 0 | 0 |");
    expect(markdown).toContain("backup retention shortened from 30 to 7 days");
    expect(markdown).toContain("migration added: 0002_notes");
    // Every update says why, by field and file name, never by value.
    expect(markdown).toContain("Why each update and replacement (3)");
    expect(markdown, markdown).toMatch(/\(`app-post-deploy`\): updated: .*its files? `migration-0002_notes\.sql` changed/);
    expect(markdown).toContain("(`app-tools`): updated: its file `backup` changed");
    // Progress on stderr from the first second; only the markdown on stdout.
    expect(stderr.split("\n")[0]).toMatch(/^preview:summary: previewing stack pr \(0 s\)$/);
    expect(markdown).not.toContain("preview:summary:");

    // A stack whose config is refused: the reason once, no command line, no repeated output.
    await setConfig(stack, { sqlite: { app: { ...app({ retentionDays: 7 }), backup: { dir: join(box.dir, "backups"), retentionDays: -1 } } } });
    const failed = previewSummary("pr");
    expect(failed.code).toBe(1);
    expect(failed.markdown).toContain("The preview failed:");
    expect(failed.markdown).toContain("retentionDays");
    expect(failed.markdown).not.toMatch(/err\?:|--event-log|code: \d/);
    const firstLine = failed.markdown.split("\n").find((l) => l.includes("retentionDays"))!;
    expect(failed.markdown.split(firstLine).length - 1, failed.markdown).toBe(1);

    await setConfig(stack, { sqlite: {} });
    const removed = previewSummary("pr").markdown;
    expect(removed).toContain("| sqlite database app | 0 | 0 | 0 | 4 |");
    expect(removed).toContain("data-bearing resource deleted: its data is kept on the host");
    expect(removed).toContain("backup schedule removed");

    await setConfig(stack, { allowDataRemoval: true, sqlite: { app: app({ retentionDays: 30 }) } });
    await stack.up();
    await stack.destroy();
  }, 480_000);
});
