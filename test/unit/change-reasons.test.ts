import { describe, expect, it } from "vitest";
import { explainChange } from "../../scripts/lib/changeReasons";

describe("why a preview updates or replaces a resource", () => {
  it("a replacement names the old and new identity (what the resource is on the host)", () => {
    expect(explainChange("replace", { identity: "/srv/a/app.db", create: "x" }, { identity: "/srv/b/app.db", create: "y" })).toBe(
      "replaced: what it is on the host changed, `/srv/a/app.db` → `/srv/b/app.db`",
    );
  });

  it("an update names fields and shipped files, never their values", () => {
    const why = explainChange(
      "update",
      { create: "old script", files: { "a.sql": "SELECT 1", "b.sql": "x" }, environment: { PGPASSWORD: "hunter2-old" } },
      { create: "new script", files: { "a.sql": "SELECT 2", "c.sql": "y" }, environment: { PGPASSWORD: "hunter2-new" } },
    );
    expect(why).toBe("updated: its script changed; its environment changed (values are not shown); its files `a.sql`, `b.sql`, `c.sql` changed");
    expect(why).not.toMatch(/hunter2|SELECT|old script/);
  });

  it("a stored-only change says nothing runs; no visible change says drift or a secret", () => {
    expect(explainChange("update", { target: { kind: "local" } }, { target: { kind: "ssh" } })).toBe("updated: how its host is reached changed (stored; nothing runs for it)");
    expect(explainChange("update", { environment: "[secret]" }, { environment: "[secret]" })).toMatch(/^drift or a secret: /);
  });
});
