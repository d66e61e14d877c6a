import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const repoRoot = path.resolve(packageDir, "../..");

/**
 * SciFact in BEIR format, from the data folder beside the repository (../shared/data/scifact).
 * Tests that need it fail, never skip, when it is missing: a skipped benchmark test reads as a pass.
 */
export function scifactDir(): string {
  const dir = path.resolve(repoRoot, "../shared/data/scifact");
  if (!existsSync(path.join(dir, "corpus.jsonl"))) {
    throw new Error(
      `SciFact not found at ${dir}: these tests need the BEIR SciFact data (corpus.jsonl, queries.jsonl, qrels/test.tsv) in ../shared/data/scifact relative to the repository root`,
    );
  }
  return dir;
}

export const fixturesDir = path.join(packageDir, "test", "fixtures");
