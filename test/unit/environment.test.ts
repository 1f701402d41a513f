import { describe, expect, it } from "vitest";
import { DEFAULT_PATH, INHERITED_VARIABLES, minimalEnvironment } from "../../components/targets/environment";

describe("minimalEnvironment", () => {
  const parent = {
    PATH: "/opt/pulumi/bin:/usr/bin:/bin",
    HOME: "/root",
    LANG: "C.UTF-8",
    TZ: "UTC",
    PULUMI_CONFIG_PASSPHRASE: "canary-passphrase",
    PULUMI_BACKEND_URL: "file:///state",
    DATABASE_URL: "postgresql://me:mine@localhost/x",
    AWS_SECRET_ACCESS_KEY: "aws",
    PGPASSWORD: "operator's",
    SSH_AUTH_SOCK: "/tmp/agent",
  };

  it("keeps PATH, HOME, LANG, LC_ALL and TZ of the parent and nothing else", () => {
    expect(INHERITED_VARIABLES).toEqual(["PATH", "HOME", "LANG", "LC_ALL", "TZ"]);
    expect(minimalEnvironment(parent)).toEqual({ PATH: "/opt/pulumi/bin:/usr/bin:/bin", HOME: "/root", LANG: "C.UTF-8", TZ: "UTC" });
  });

  it("adds what the step declares, which wins over the parent's", () => {
    expect(minimalEnvironment(parent, { DATABASE_URL: "sqlite:////srv/app.db", DBSTACK_PASSWORD_APP: "pw", LANG: "pt_BR.UTF-8" })).toEqual({
      PATH: "/opt/pulumi/bin:/usr/bin:/bin",
      HOME: "/root",
      LANG: "pt_BR.UTF-8",
      TZ: "UTC",
      DATABASE_URL: "sqlite:////srv/app.db",
      DBSTACK_PASSWORD_APP: "pw",
    });
  });

  it("gives a default PATH when the parent has none, and drops empty values", () => {
    expect(minimalEnvironment({ PATH: "", HOME: undefined, PULUMI_CONFIG_PASSPHRASE: "x" })).toEqual({ PATH: DEFAULT_PATH });
  });

  it("does not change its arguments", () => {
    const copy = { ...parent };
    const declared = { A: "1" };
    minimalEnvironment(copy, declared);
    expect(copy).toEqual(parent);
    expect(declared).toEqual({ A: "1" });
  });
});
