import { readFileSync } from "fs";
import { join, resolve } from "path";
import { describe, expect, it } from "vitest";
import type { ReviewFacts } from "../../components/model/reviewFacts";
import { renderSummaryMarkdown, summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";

const FIXTURES = resolve(__dirname, "../fixtures/preview-events");

/** Events recorded from real previews of a throwaway SQLite stack (see the fixture names). */
function recorded(name: string): PreviewEvent[] {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8"));
}

function markdown(events: PreviewEvent[]): string {
  return renderSummaryMarkdown(summarizePreview("test", events));
}

/** An event in the recorded shape, for kinds of change no engine declares yet (restarts, grants, standbys). */
function step(op: string, name: string, old?: ReviewFacts, now?: ReviewFacts, extraInputs: Record<string, unknown> = {}): PreviewEvent {
  const urn = `urn:pulumi:test::dbstack::dbstack:postgres:Cluster$pulumi-nodejs:dynamic/dbstack:HostCommand::${name}`;
  const state = (review?: ReviewFacts) =>
    review && { type: "pulumi-nodejs:dynamic/dbstack:HostCommand", urn, parent: "", inputs: { review, ...extraInputs } };
  return { resourcePreEvent: { metadata: { op, urn, type: "pulumi-nodejs:dynamic/dbstack:HostCommand", old: state(old), new: state(now) } } };
}

describe("preview summary on recorded previews", () => {
  it("says 'No changes.' when nothing changes", () => {
    expect(markdown(recorded("no-changes.json"))).toBe("### dbstack preview: stack `test`\n\nNo changes.\n");
  });

  it("counts a new database's resources under its component and flags its migrations", () => {
    const md = markdown(recorded("create.json"));
    expect(md).toContain("| sqlite database app | 4 | 0 | 0 | 0 |");
    expect(md).toContain("migration added: 0001_users");
    expect(md).not.toContain("data-bearing");
  });

  it("flags a shortened retention and an added migration", () => {
    const summary = summarizePreview("test", recorded("retention-shortened-migration-added.json"));
    expect(summary.flags.map((f) => [f.kind, f.resource, f.message])).toEqual([
      ["backup", "app-backup-schedule", "backup retention shortened from 30 to 7 days"],
      ["migration", "app-post-deploy", "migration added: 0002_notes"],
    ]);
    expect(renderSummaryMarkdown(summary)).toContain("| sqlite database app | 0 | 3 | 0 | 0 |");
  });

  it("flags a replaced data-bearing resource when the database path changes", () => {
    const md = markdown(recorded("database-path-changed.json"));
    expect(md).toContain("| sqlite database app | 0 | 2 | 1 | 0 |");
    expect(md).toContain("`app-file`): data-bearing resource replaced: a new, empty one is created; its data is kept on the host");
  });

  it("flags deleted data-bearing resources and the removed backup schedule", () => {
    const summary = summarizePreview("test", recorded("database-removed.json"));
    const kinds = summary.flags.map((f) => `${f.kind}:${f.resource}`).sort();
    expect(kinds).toEqual(["backup:app-backup-schedule", "data:app-backup-schedule", "data:app-file"]);
    expect(renderSummaryMarkdown(summary)).toContain("backup schedule removed (was 0 2 * * *, kept 30 days)");
  });
});

describe("preview summary flags from declared facts", () => {
  const component = "postgres cluster main";

  it("says data will really be deleted when the stack allows data removal", () => {
    const md = markdown([step("delete", "main-data", { component, dataBearing: true, dataRemovalAllowed: true })]);
    expect(md).toContain("**its data will be deleted** (allowDataRemoval is true)");
  });

  it("flags a restart-needing change", () => {
    const facts = { component, restartsDatabase: true };
    expect(markdown([step("update", "main-config", facts, facts)])).toContain("**restart**");
  });

  it("flags a widened grant and a new superuser, not a narrowed grant", () => {
    const old: ReviewFacts = { component, grants: { app: { role: "readonly" }, report: { role: "owner" } } };
    const now: ReviewFacts = {
      component,
      grants: { app: { role: "readwrite" }, report: { role: "readonly" }, admin: { role: "owner", superuser: true } },
    };
    const messages = summarizePreview("test", [step("update", "main-grants", old, now)]).flags.map((f) => f.message);
    expect(messages).toEqual(["grant widened: app from readonly to readwrite", "new superuser: admin", "new grant: admin gets owner"]);
  });

  it("flags a removed standby", () => {
    expect(markdown([step("delete", "replica-1", { component, standby: "replica-1" })])).toContain("standby removed: replica-1");
  });

  it("does not flag a change without declared facts, even when its name sounds risky", () => {
    const urn = "urn:pulumi:test::dbstack::pulumi-nodejs:dynamic/dbstack:HostCommand::data-backup-superuser";
    const event: PreviewEvent = {
      resourcePreEvent: { metadata: { op: "delete", urn, type: "x", old: { urn, parent: "", inputs: {} }, new: null } },
    };
    expect(summarizePreview("test", [event]).flags).toEqual([]);
  });

  it("never prints input values, so secrets stay out of the comment", () => {
    const secret = "s3cr3t-Passw0rd";
    const events = [
      step("update", "main-users", { component, grants: { app: { role: "readonly" } } }, { component, grants: { app: { role: "owner" } } }, {
        environment: { PGPASSWORD: secret },
        create: `psql -c "ALTER ROLE app PASSWORD '${secret}'"`,
      }),
    ];
    const md = markdown(events);
    expect(md).toContain("grant widened: app from readonly to owner");
    expect(md).not.toContain(secret);
  });
});

describe("allowDataRemoval is recorded by up: the summary says so where a reviewer looks", () => {
  const data = (allowed: boolean): ReviewFacts => ({ component: "postgres cluster main", dataBearing: true, dataRemovalAllowed: allowed });

  it.each([
    ["delete", data(false), undefined, "its data is kept on the host (allowDataRemoval is false; to delete it, set allowDataRemoval and run `up` first"],
    ["update", data(false), data(true), "allowDataRemoval turned on: after this up, **destroy deletes this data**"],
    ["update", data(true), data(false), "allowDataRemoval turned off: after this up, destroy keeps this data"],
  ])("%s %j → %j", (op, old, now, message) => {
    expect(markdown([step(op, "main-cluster", old, now)])).toContain(message);
  });

  it("says nothing about data removal for an update that keeps the setting", () => {
    expect(markdown([step("update", "main-cluster", data(false), data(false))])).not.toContain("allowDataRemoval");
  });
});
