import { describe, expect, it } from "vitest";
import type { ReviewFacts } from "../../components/model/reviewFacts";
import { renderSummaryMarkdown, summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";

function step(op: string, name: string, old?: ReviewFacts, now?: ReviewFacts): PreviewEvent {
  const urn = `urn:pulumi:test::dbstack::dbstack:postgres:Cluster$pulumi-nodejs:dynamic/dbstack:HostCommand::${name}`;
  const state = (review?: ReviewFacts) => review && { type: "pulumi-nodejs:dynamic/dbstack:HostCommand", urn, parent: "", inputs: { review } };
  return { resourcePreEvent: { metadata: { op, urn, type: "pulumi-nodejs:dynamic/dbstack:HostCommand", old: state(old), new: state(now) } } };
}

const facts = (rpoS: number, drillSchedule = "0 2 * * *"): ReviewFacts => ({ component: "postgres cluster main", dataBearing: true, pitr: { rpoS, drillSchedule } });

describe("the preview summary shows each deployment's recovery objectives", () => {
  it("with no change, the declared RPO and drill schedule are still shown", () => {
    const md = renderSummaryMarkdown(summarizePreview("test", [step("same", "main-pitr", facts(60), facts(60))]));
    expect(md).toBe("### dbstack preview: stack `test`\n\nNo changes.\n\n#### Recovery objectives\n\n- postgres cluster main: recovery point within 60 s (pitr.archiveTimeoutS), restore drill `0 2 * * *`\n");
  });
  it("a lengthened RPO and a removed PITR are flagged for review", () => {
    const longer = summarizePreview("test", [step("update", "main-pitr", facts(60), facts(300))]);
    expect(longer.flags.map((f) => f.message)).toContain("recovery-point objective lengthened from 60 s to 300 s");
    const removed = summarizePreview("test", [step("delete", "main-pitr", facts(60))]);
    expect(removed.flags.map((f) => f.message)).toContain("point-in-time recovery removed (was RPO 60 s, drill 0 2 * * *); the repository is kept unless data removal is allowed");
    expect(renderSummaryMarkdown(removed)).not.toContain("#### Recovery objectives");
  });
});
