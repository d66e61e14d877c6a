import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The files a BEIR dataset folder must hold for the CLI's default run. */
const REQUIRED = ["corpus.jsonl", "queries.jsonl", path.join("qrels", "test.tsv")];

/**
 * The embedded SciFact folder (apps/revela/data/scifact), found relative to this module: from the
 * bundle (dist/cli.js → ../data/scifact) and from the sources under test (src/data/defaultDataset.ts
 * → ../../data/scifact). `from` is the module URL to resolve against (tests pass others).
 */
export function defaultDatasetDir(from: string | URL = import.meta.url): string {
  const here = path.dirname(fileURLToPath(from));
  const candidates = [path.resolve(here, "..", "data", "scifact"), path.resolve(here, "..", "..", "data", "scifact")];
  for (const dir of candidates) {
    if (REQUIRED.every((f) => existsSync(path.join(dir, f)))) return dir;
  }
  throw new Error(
    `the embedded SciFact dataset is missing (looked for ${REQUIRED.join(", ")} in ${candidates.join(" and ")}); reinstall revela or pass --data <BEIR folder>`,
  );
}
