import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { PipelineResult } from "../pipeline/pipelineResult.js";
import { checkPipelineResult } from "./checkPipelineResult.js";
import { renderReportHtml } from "./reportHtml.js";
import { formatResultJson } from "./resultsJson.js";
import { renderResultsMarkdown } from "./resultsMarkdown.js";

export interface WrittenReport {
  json: string;
  html: string;
  markdown: string;
}

/** Writes a file under a temporary name, then renames it: a reader never sees half a report. */
async function writeWhole(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/**
 * Writes results.json, report.html and results.md into `dir` (created if needed) and returns their
 * paths. Everything is rendered before anything is written, so a bad result leaves no files.
 */
export async function writeReport(dir: string, result: PipelineResult): Promise<WrittenReport> {
  if (typeof dir !== "string" || dir === "") throw new Error("writeReport: dir must be a non-empty path");
  checkPipelineResult(result, "writeReport");
  const texts = {
    json: formatResultJson(result),
    html: renderReportHtml(result),
    markdown: renderResultsMarkdown(result),
  };
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create output directory ${dir}: ${(error as Error).message}`);
  }
  const files: WrittenReport = {
    json: path.join(dir, "results.json"),
    html: path.join(dir, "report.html"),
    markdown: path.join(dir, "results.md"),
  };
  await writeWhole(files.json, texts.json);
  await writeWhole(files.html, texts.html);
  await writeWhole(files.markdown, texts.markdown);
  return files;
}
