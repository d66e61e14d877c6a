import { type BeirDataset, denseRetrieve, type Encoder, evaluateRun, type Run } from "@revela/eval";
import type { DenseEncoder } from "@revela/retriever";
import { documentText } from "../data/documentText.js";
import type { ResultRow } from "./pipelineResult.js";

/** The eval package's Encoder interface over a DenseEncoder. */
export function asEvalEncoder(
  encoder: DenseEncoder,
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
): Encoder {
  const rows = (m: { data: Float32Array; shape: [number, number] }) =>
    Array.from({ length: m.shape[0] }, (_, i) => m.data.subarray(i * m.shape[1], (i + 1) * m.shape[1]));
  return {
    encodeQueries: async (texts) => rows(await encoder.encode(texts, { kind: "query", batchSize })),
    encodeDocuments: async (docs) =>
      rows(
        await encoder.encode(docs.map(documentText), {
          kind: "passage",
          batchSize,
          ...(onProgress ? { onProgress } : {}),
        }),
      ),
  };
}

export function resultRow(system: string, run: Run, dataset: BeirDataset): ResultRow {
  const r = evaluateRun(run, dataset.qrels, { k: [10, 100], measures: ["ndcg", "recall", "mrr"] });
  return {
    system,
    ndcg10: r.mean["NDCG@10"] as number,
    recall100: r.mean["Recall@100"] as number,
    mrr10: r.mean["MRR@10"] as number,
  };
}

/** Exact dense retrieval of the dataset's queries over its whole corpus. */
export async function denseRun(
  encoder: DenseEncoder,
  dataset: BeirDataset,
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
): Promise<Run> {
  return denseRetrieve(asEvalEncoder(encoder, batchSize, onProgress), dataset.corpus, dataset.queries, {
    k: 100,
    chunkSize: 2048,
  });
}
