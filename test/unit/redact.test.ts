import { describe, expect, it } from "vitest";
import { MIN_SECRET_LENGTH, REDACTED, redactSecrets, redactText, secretNeedles } from "../../components/targets/redact";

const PASSWORD = "Zq81mKd03LxPa7vRwT5yNc2eHs9uBf4G";
const PRIVATE_KEY = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "QyNTUxOQAAACDk2j3bX0vZQ2p7m2D1yY0rjV1bTq3q1m0a8wXkq7tq3QAAAJgq7d3vKu3d",
  "-----END OPENSSH PRIVATE KEY-----",
].join("\n");

describe("redactSecrets", () => {
  it("replaces every occurrence of every value", () => {
    const text = `password=${PASSWORD}\nagain: '${PASSWORD}'`;
    expect(redactSecrets(text, [PASSWORD])).toBe(`password=${REDACTED}\nagain: '${REDACTED}'`);
  });

  it("finds a URL's password in its encoded and decoded forms, and the URL whole", () => {
    const pw = "p@ss:w/rd?#%& +x";
    const url = `postgresql://app:${encodeURIComponent(pw)}@127.0.0.1:5432/app?sslmode=require`;
    expect(redactSecrets(`DATABASE_URL=${url}`, [url])).toBe(`DATABASE_URL=${REDACTED}`);
    expect(redactSecrets(`psql: password ${pw} refused`, [url])).toBe(`psql: password ${REDACTED} refused`);
    expect(redactSecrets(`encoded ${encodeURIComponent(pw)}`, [url])).toBe(`encoded ${REDACTED}`);
  });

  it("finds each line of a multi-line secret (a key printed line by line, or cut across log lines)", () => {
    const lines = PRIVATE_KEY.split("\n");
    const out = redactSecrets(`debug: ${lines[1]}\nmore: ${lines[2]}\n${PRIVATE_KEY}`, [PRIVATE_KEY]);
    expect(out).not.toContain(lines[1]);
    expect(out).not.toContain(lines[2]);
    expect(out).toBe(`debug: ${REDACTED}\nmore: ${REDACTED}\n${REDACTED}`);
  });

  it("replaces a value that contains another whole (longest first)", () => {
    const short = "abcdefgh";
    const long = `${short}-and-more`;
    expect(redactSecrets(`${long} ${short}`, [short, long])).toBe(`${REDACTED} ${REDACTED}`);
  });

  it("leaves text without secrets, and values too short to mean anything, alone", () => {
    expect(redactSecrets("created cluster 15/main on port 5432", [PASSWORD, "on", "1", ""])).toBe("created cluster 15/main on port 5432");
    expect(secretNeedles(["x".repeat(MIN_SECRET_LENGTH - 1)])).toEqual([]);
    expect(secretNeedles(["x".repeat(MIN_SECRET_LENGTH)])).toEqual(["x".repeat(MIN_SECRET_LENGTH)]);
  });

  it("treats regular-expression characters literally", () => {
    const value = "a.b*c+d?(e)[f]$^";
    expect(redactText(`x${value}y aXbbbcd`, secretNeedles([value]))).toBe(`x${REDACTED}y aXbbbcd`);
  });
});
