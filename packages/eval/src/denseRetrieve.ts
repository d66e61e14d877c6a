import { TopK } from "@revela/text-data";
import type { BeirDocument } from "./beirDataset.js";
import { documentList } from "./documentList.js";
import type { Embedding, Encoder } from "./encoder.js";
import { checkQueries, type RetrieveOptions } from "./retrieveOptions.js";
import type { Run } from "./run.js";
import { compareBytewise } from "./trecOrder.js";

export interface DenseRetrieveOptions extends RetrieveOptions {
  /** Documents encoded and scored at a time; memory holds one chunk of embeddings. Default 1024. */
  chunkSize?: number;
  /** Queries per `encodeQueries` call; default 256. */
  queryBatchSize?: number;
  /** `"dot"` (default; use it for L2-normalised encoders) or `"cosine"` (normalises here). */
  similarity?: "dot" | "cosine";
}

/**
 * Exact (brute-force) dense retrieval: every query against every document, so the result is the
 * true top k — what an approximate index is measured against. Queries are encoded once and kept
 * ([Q, D] float32); documents are encoded `chunkSize` at a time and discarded after scoring, so
 * memory is Q·D + chunkSize·D + Q·k whatever the corpus size.
 */
export async function denseRetrieve(
  encoder: Encoder,
  corpus: Iterable<BeirDocument> | Map<string, BeirDocument>,
  queries: Map<string, string>,
  options: DenseRetrieveOptions = {},
): Promise<Run> {
  const k = options.k ?? 1000;
  const chunkSize = options.chunkSize ?? 1024;
  const queryBatchSize = options.queryBatchSize ?? 256;
  const similarity = options.similarity ?? "dot";
  for (const [name, value] of [
    ["k", k],
    ["chunkSize", chunkSize],
    ["queryBatchSize", queryBatchSize],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`denseRetrieve: ${name} must be a positive integer, got ${value}`);
  }
  if (similarity !== "dot" && similarity !== "cosine") {
    throw new Error(`denseRetrieve: similarity must be "dot" or "cosine", got ${JSON.stringify(similarity)}`);
  }
  checkQueries(queries, "denseRetrieve");
  const docs = documentList(corpus);
  const queryIds = [...queries.keys()];
  const numQueries = queryIds.length;

  // Queries: [Q, D] row-major.
  let dim = -1;
  let queryMatrix = new Float32Array(0);
  for (let start = 0; start < numQueries; start += queryBatchSize) {
    const ids = queryIds.slice(start, start + queryBatchSize);
    const vectors = await encoder.encodeQueries(ids.map((id) => queries.get(id) as string));
    checkBatch(vectors, ids.length, "encodeQueries", start);
    if (dim < 0) {
      dim = (vectors[0] as Embedding).length;
      if (dim === 0) throw new Error("denseRetrieve: encodeQueries returned empty embeddings");
      queryMatrix = new Float32Array(numQueries * dim);
    }
    for (let i = 0; i < ids.length; i++) {
      copyRow(vectors[i] as Embedding, queryMatrix, (start + i) * dim, dim, similarity, `query "${ids[i]}"`);
    }
    options.onProgress?.({ phase: "queries", done: start + ids.length, total: numQueries });
  }

  const heaps = queryIds.map(() => new TopK<string>(options.ignoreIdenticalIds ? k + 1 : k, trecTieOrder));
  const chunk = new Float32Array(Math.min(chunkSize, docs.length) * Math.max(dim, 0));
  for (let start = 0; start < docs.length; start += chunkSize) {
    const batch = docs.slice(start, start + chunkSize);
    const vectors = await encoder.encodeDocuments(batch);
    checkBatch(vectors, batch.length, "encodeDocuments", start);
    if (dim < 0) {
      // No queries: nothing to score, but the documents were still checked.
      options.onProgress?.({ phase: "documents", done: start + batch.length, total: docs.length });
      continue;
    }
    for (let j = 0; j < batch.length; j++) {
      copyRow(vectors[j] as Embedding, chunk, j * dim, dim, similarity, `document "${(batch[j] as BeirDocument).id}"`);
    }
    scoreChunk(queryMatrix, numQueries, chunk, batch, dim, heaps);
    options.onProgress?.({ phase: "documents", done: start + batch.length, total: docs.length });
  }

  const run: Run = new Map();
  queryIds.forEach((queryId, q) => {
    const best = (heaps[q] as TopK<string>).sorted();
    let hits = best.keys.map((docId, i) => ({ docId, score: best.scores[i] as number }));
    if (options.ignoreIdenticalIds) hits = hits.filter((h) => h.docId !== queryId).slice(0, k);
    run.set(queryId, hits);
  });
  return run;
}

/** Scores one chunk of documents against every query and offers each score to that query's heap. */
function scoreChunk(
  queryMatrix: Float32Array,
  numQueries: number,
  chunk: Float32Array,
  batch: readonly BeirDocument[],
  dim: number,
  heaps: TopK<string>[],
): void {
  for (let q = 0; q < numQueries; q++) {
    const heap = heaps[q] as TopK<string>;
    const qOffset = q * dim;
    for (let j = 0; j < batch.length; j++) {
      const dOffset = j * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += (queryMatrix[qOffset + d] as number) * (chunk[dOffset + d] as number);
      if (dot >= heap.threshold) heap.offer(dot, (batch[j] as BeirDocument).id);
    }
  }
}

function checkBatch(vectors: readonly Embedding[], expected: number, method: string, start: number): void {
  if (!Array.isArray(vectors) || vectors.length !== expected) {
    const got = Array.isArray(vectors) ? `${vectors.length} embeddings` : typeof vectors;
    throw new Error(`denseRetrieve: ${method} was given ${expected} inputs (from #${start}) and returned ${got}`);
  }
}

/** Copies an embedding into `out` at `offset`, checking its dimension and values; normalises for cosine. */
function copyRow(v: Embedding, out: Float32Array, offset: number, dim: number, similarity: string, what: string): void {
  if (v === null || typeof v !== "object" || v.length !== dim) {
    throw new Error(`denseRetrieve: embedding of ${what} has dimension ${v?.length}, expected ${dim}`);
  }
  let norm = 0;
  for (let d = 0; d < dim; d++) {
    const x = v[d] as number;
    if (!Number.isFinite(x)) throw new Error(`denseRetrieve: embedding of ${what} has ${x} at position ${d}`);
    norm += x * x;
  }
  // A zero vector has cosine 0 with everything rather than NaN.
  const scale = similarity === "cosine" && norm > 0 ? 1 / Math.sqrt(norm) : 1;
  for (let d = 0; d < dim; d++) out[offset + d] = (v[d] as number) * scale;
}

/** Equal scores in trec_eval order: the byte-wise greater document id first. */
const trecTieOrder = (a: string, b: string): number => compareBytewise(b, a);
