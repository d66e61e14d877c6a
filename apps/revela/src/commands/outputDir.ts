import { mkdirSync, statSync } from "node:fs";
import path from "node:path";

/**
 * Creates the output folder (and its parents) before any work starts, so that an unwritable
 * --out fails now rather than after training. Returns the absolute path.
 */
export function prepareOutputDir(dir: string, source = "--out"): string {
  const abs = path.resolve(dir);
  try {
    if (statSync(abs, { throwIfNoEntry: false })?.isFile()) throw new Error("it is a file, not a directory");
    mkdirSync(abs, { recursive: true });
  } catch (error) {
    throw new Error(`${source} ${dir}: cannot create the output directory: ${(error as Error).message}`);
  }
  return abs;
}
