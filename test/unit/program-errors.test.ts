import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../components/validate";
import { tameProgramError } from "../../stacks/failFast";

/** A stack as an error thrown in an apply has it: source maps name Pulumi's output.js node_modules/@pulumi/output.ts. */
const APPLY_STACK = [
  "    at /work/dbstack/components/deploy/serverDeployment.ts:115:26",
  "    at applyHelperAsync (/work/dbstack/node_modules/@pulumi/output.ts:519:31)",
  "    at /work/dbstack/node_modules/@pulumi/output.ts:379:13",
  "    at processTicksAndRejections (node:internal/process/task_queues:95:5)",
].join("\n");

/** Whether `util.inspect(err, { colors: true })`, what Pulumi's handler runs, finishes within 10 s on an error with this stack. */
function inspectFinishes(stack: string): boolean {
  const script = `const e = new Error("x"); e.stack = ${JSON.stringify(stack)}; require("util").inspect(e, { colors: true }); console.log("done");`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
  return r.stdout.includes("done");
}

describe("program errors are reported promptly, naming the field", () => {
  it("Node's colored inspect does not finish on an apply's stack (the preview 'hang'), and does on the tamed one", () => {
    const err = new ArgumentError('error serializing property "review": error serializing property "create": version: declared "10.6"');
    err.stack = `ArgumentError: ${err.message}\n${APPLY_STACK}`;
    expect(inspectFinishes(err.stack)).toBe(false);
    tameProgramError(err);
    expect(inspectFinishes(err.stack!)).toBe(true);
  }, 30_000);

  it.each([
    [new ArgumentError('error serializing property "review": error serializing property "triggers": version: declared "10.6"'), 'version: declared "10.6"', 'ArgumentError: version: declared "10.6"'],
    [new Error('error serializing property "create": boom'), "boom", "Error: boom\n    at /work/dbstack/components/deploy/serverDeployment.ts:115:26\n    at processTicksAndRejections (node:internal/process/task_queues:95:5)"],
  ])("%s: the message loses Pulumi's prefixes; user errors lose the stack, others the node_modules frames", (err, message, stack) => {
    err.stack = `${err.name}: ${err.message}\n${APPLY_STACK}`;
    tameProgramError(err);
    expect(err.message).toBe(message);
    expect(err.stack).toBe(stack);
  });

  it("leaves what is not an Error alone", () => {
    expect(tameProgramError("text")).toBe("text");
  });
});
