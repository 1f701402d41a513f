// npm run preview:summary -- --stack <name> [--out <file>]
// Runs `pulumi preview` on a stack and writes a Markdown summary fit for a pull-request comment.
import { LocalWorkspace, type EngineEvent } from "@pulumi/pulumi/automation";
import { writeFileSync } from "fs";
import { parseArgs } from "util";
import { ensurePulumiOnPath, pulumiEnv, ROOT } from "./lib/env";
import { renderSummaryMarkdown, summarizePreview, type PreviewEvent } from "./lib/previewSummary";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { stack: { type: "string" }, out: { type: "string" }, cwd: { type: "string" } },
  });
  if (!values.stack) {
    console.error("usage: npm run preview:summary -- --stack <name> [--out <file>]");
    return 2;
  }
  ensurePulumiOnPath();
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: values.stack, workDir: values.cwd ?? ROOT },
    { envVars: pulumiEnv(values.stack) },
  );
  const events: EngineEvent[] = [];
  try {
    await stack.preview({ onEvent: (e) => events.push(e) });
  } catch (err) {
    const markdown = `### dbstack preview: stack \`${values.stack}\`\n\nThe preview failed:\n\n\`\`\`\n${lastLines((err as Error).message, 30)}\n\`\`\`\n`;
    emit(markdown, values.out);
    return 1;
  }
  emit(renderSummaryMarkdown(summarizePreview(values.stack, events as PreviewEvent[])), values.out);
  return 0;
}

function emit(markdown: string, out: string | undefined): void {
  if (out) writeFileSync(out, markdown);
  else process.stdout.write(markdown);
}

function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join("\n");
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`preview:summary: ${(err as Error).message}`);
    process.exit(1);
  },
);
