import type { BeirDataset } from "@revela/eval";
import type { DenseEncoder } from "@revela/retriever";
import { SeededRandom } from "@revela/trainer";
import { denseRun, resultRow } from "./evaluateRetriever.js";

/**
 * A fixed slice of the evaluation data for learning curves: `queries` judged queries (a seeded
 * choice), all their relevant documents, and `documents` others (seeded). Small enough to evaluate
 * every few hundred steps; the same slice at every point, so the curve moves only with the model.
 */
export function curveSlice(
  dataset: BeirDataset,
  options: { queries: number; documents: number; seed: number },
): BeirDataset {
  const rng = SeededRandom.fromSeed(`curve-${options.seed}`);
  const queryIds = rng.shuffle([...dataset.queries.keys()]).slice(0, options.queries);
  const qrels: BeirDataset["qrels"] = new Map();
  const relevant = new Set<string>();
  for (const q of queryIds) {
    const judged = dataset.qrels.get(q);
    if (!judged) continue;
    qrels.set(q, judged);
    for (const [doc, grade] of judged) if (grade > 0 && dataset.corpus.has(doc)) relevant.add(doc);
  }
  const others = rng.shuffle([...dataset.corpus.keys()].filter((id) => !relevant.has(id))).slice(0, options.documents);
  const corpus = new Map([...relevant, ...others].map((id) => [id, dataset.corpus.get(id)!] as const));
  return {
    corpus,
    queries: new Map(queryIds.map((q) => [q, dataset.queries.get(q) as string])),
    qrels,
    unknownQueryRows: 0,
    unknownDocumentRows: 0,
    warnings: [],
  };
}

/** `runTraining`'s evaluate hook: nDCG@10 and Recall@100 of the retriever on the slice. */
export function curveEvaluator(
  encoder: DenseEncoder,
  slice: BeirDataset,
  batchSize: number,
): (step: number) => Promise<Record<string, number>> {
  return async () => {
    const row = resultRow("curve", await denseRun(encoder, slice, batchSize), slice);
    return { ndcg10: row.ndcg10, recall100: row.recall100 };
  };
}
