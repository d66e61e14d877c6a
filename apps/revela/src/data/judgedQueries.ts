import path from "node:path";
import type { BeirDataset } from "@revela/eval";

/**
 * Throws unless the split has at least one query with judgements. Without any, every measure is
 * a mean over nothing, which would print an all-zero table and mark it best: both `train` (before
 * it trains) and `eval` refuse instead, saying which file is empty.
 */
export function requireJudgedQueries(dataset: BeirDataset, dir: string, split: string): void {
  if (dataset.queries.size > 0) return;
  const qrelsFile = path.join(dir, "qrels", `${split}.tsv`);
  if (dataset.qrels.size === 0) {
    throw new Error(`${qrelsFile}: no judgements (a header and no rows): there is nothing to evaluate`);
  }
  throw new Error(
    `${path.join(dir, "queries.jsonl")}: none of the ${dataset.qrels.size} query ids judged in ${qrelsFile} is in it (is it empty?): there is nothing to evaluate`,
  );
}
