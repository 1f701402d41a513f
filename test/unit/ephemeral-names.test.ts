import { describe, expect, it } from "vitest";
import { createdAt, ephemeralStackName, isStale, parseTtl, runIdOf, substitutePlaceholders } from "../../scripts/lib/ephemeralNames";

describe("ephemeral stack names", () => {
  const now = new Date(Date.UTC(2026, 10, 21, 6, 5, 9));

  it("are <prefix>-<UTC time>-<random>, and tell when they were made", () => {
    const name = ephemeralStackName("pr-12", now, "ab12cd");
    expect(name).toBe("pr-12-20261121060509-ab12cd");
    expect(createdAt(name, "pr-12")?.toISOString()).toBe("2026-11-21T06:05:09.000Z");
    expect(runIdOf(name)).toBe("ab12cd");
  });

  it("refuse a prefix that would make an invalid stack name", () => {
    expect(() => ephemeralStackName("PR 12", now)).toThrow(/^--stack-prefix: .*got "PR 12"/);
  });

  it("are stale only past the TTL, and only with the given prefix", () => {
    const name = ephemeralStackName("eph", now, "zz9999");
    expect(isStale(name, "eph", parseTtl("1h"), new Date(now.getTime() + 59 * 60_000))).toBe(false);
    expect(isStale(name, "eph", parseTtl("1h"), new Date(now.getTime() + 61 * 60_000))).toBe(true);
    expect(isStale(name, "other", 0, now)).toBe(false);
    expect(isStale("dev", "eph", 0, now)).toBe(false);
  });

  it("read TTLs in s, m, h and d, and refuse anything else", () => {
    expect([parseTtl("90s"), parseTtl("30m"), parseTtl("6h"), parseTtl("2d")]).toEqual([90_000, 1_800_000, 21_600_000, 172_800_000]);
    expect(() => parseTtl("6 hours")).toThrow(/--ttl: expected a duration/);
  });
});

describe("placeholders in the ephemeral config", () => {
  it("are replaced in every string, and a whole numeric placeholder becomes a number", () => {
    const config = { postgres: { app: { port: "${PG_PORT}", instanceName: "eph_${RUN_ID}", toolsDir: "${DATA_ROOT}/tools", keep: "${UNKNOWN}" } }, list: ["${DATA_ROOT}/a"] };
    expect(substitutePlaceholders(config, { PG_PORT: "54321", RUN_ID: "ab12cd", DATA_ROOT: "/tmp/x" })).toEqual({
      postgres: { app: { port: 54321, instanceName: "eph_ab12cd", toolsDir: "/tmp/x/tools", keep: "${UNKNOWN}" } },
      list: ["/tmp/x/a"],
    });
  });
});
