// npm run preview:summary -- --stack <name> [--out <file>]
// Runs `pulumi preview` on a stack and writes a Markdown summary fit for a pull-request comment.
// Progress goes to stderr from the first second (the markdown alone goes to stdout or --out).
import { LocalWorkspace, type EngineEvent } from "@pulumi/pulumi/automation";
import { writeFileSync } from "fs";
import { parseArgs } from "util";
import { ensurePulumiOnPath, pulumiEnv, ROOT } from "./lib/env";
import { previewFailureText, renderFailureMarkdown, renderSummaryMarkdown, summarizePreview, type PreviewEvent } from "./lib/previewSummary";

const USAGE = "usage: npm run preview:summary -- --stack <name> [--out <file>]";

async function main(): Promise<number> {
  let values: { stack?: string; out?: string; cwd?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { stack: { type: "string" }, out: { type: "string" }, cwd: { type: "string" }, help: { type: "boolean", short: "h" } } }));
  } catch (err) {
    console.error(`preview:summary: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(`preview:summary: runs pulumi preview on a stack and writes a Markdown summary for a pull-request comment.\n${USAGE}`);
    return 0;
  }
  if (!values.stack) {
    console.error(`preview:summary: --stack is required\n${USAGE}`);
    return 2;
  }
  const stackName = values.stack;
  const started = Date.now();
  const events: EngineEvent[] = [];
  const progress = (what: string) => console.error(`preview:summary: ${what} (${Math.round((Date.now() - started) / 1000)} s)`);
  progress(`previewing stack ${stackName}`);
  const ticker = setInterval(() => progress(`still previewing: ${events.filter((e) => e.resourcePreEvent).length} resources looked at`), 10_000);
  try {
    ensurePulumiOnPath();
    const stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: values.cwd ?? ROOT }, { envVars: pulumiEnv(stackName) });
    await stack.preview({ onEvent: (e) => events.push(e) });
  } catch (err) {
    emit(renderFailureMarkdown(stackName, previewFailureText(events, (err as Error).message)), values.out);
    progress("the preview failed; the summary says why");
    return 1;
  } finally {
    clearInterval(ticker);
  }
  emit(renderSummaryMarkdown(summarizePreview(stackName, events as PreviewEvent[])), values.out);
  progress("done");
  return 0;
}

function emit(markdown: string, out: string | undefined): void {
  if (out) writeFileSync(out, markdown);
  else process.stdout.write(markdown);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`preview:summary: ${(err as Error).message}`);
    process.exit(1);
  },
);
