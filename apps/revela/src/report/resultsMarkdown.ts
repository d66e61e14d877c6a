import type { PipelineResult } from "../pipeline/pipelineResult.js";
import { checkPipelineResult } from "./checkPipelineResult.js";
import { formatResultsMarkdownTable } from "./resultsTable.js";
import { formatSeconds } from "./timingChart.js";

/** results.md: the results table with the facts needed to read it, for pasting into issues and READMEs. */
export function renderResultsMarkdown(result: PipelineResult): string {
  checkPipelineResult(result, "renderResultsMarkdown");
  const m = result.machine;
  const lines = [
    `# Revela run on ${result.dataset}`,
    "",
    `${result.queries} queries, ${result.documents} documents; started ${result.startedAt}, ${formatSeconds(result.totalSeconds)} in all.`,
    `Machine: ${m.backend} backend, ${m.threads} threads, ${m.cores} cores, ${m.cpu}, ${m.platform}, Node ${m.node}, tfjs ${m.tfjs}.`,
    "",
    result.rows.length > 0 ? formatResultsMarkdownTable(result.rows) : "_No systems were evaluated._",
    "",
    "Bold: best in column.",
  ];
  if (result.timings.length > 0) {
    lines.push("", "| phase | time |", "| --- | ---: |");
    for (const t of result.timings) lines.push(`| ${t.phase.replace(/\|/g, "\\|")} | ${formatSeconds(t.seconds)} |`);
  }
  return `${lines.join("\n")}\n`;
}
