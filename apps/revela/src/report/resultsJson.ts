import { readFile } from "node:fs/promises";
import type { PipelineResult } from "../pipeline/pipelineResult.js";
import { checkPipelineResult } from "./checkPipelineResult.js";

/** results.json's text: the PipelineResult itself, indented for diffs. */
export function formatResultJson(result: PipelineResult): string {
  checkPipelineResult(result, "formatResultJson");
  return `${JSON.stringify(result, null, 2)}\n`;
}

/** Reads a results.json back, checking every field (errors name the file and the field). */
export async function readResultJson(file: string): Promise<PipelineResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read results file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: invalid JSON: ${(error as Error).message}`);
  }
  checkPipelineResult(parsed, file);
  return parsed;
}
