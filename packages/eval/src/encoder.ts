import type { BeirDocument } from "./beirDataset.js";

/** One embedding: a `Float32Array`, a `number[]`, or any other array-like of numbers. */
export type Embedding = ArrayLike<number>;

/**
 * What dense evaluation needs from a model: embeddings for queries and for documents, one per input,
 * all of the same dimension. Queries and documents may be encoded differently (e.g. "query: " and
 * "passage: " prefixes); that is the encoder's business. Either method may be sync or async.
 */
export interface Encoder {
  encodeQueries(texts: readonly string[]): Promise<readonly Embedding[]> | readonly Embedding[];
  encodeDocuments(documents: readonly BeirDocument[]): Promise<readonly Embedding[]> | readonly Embedding[];
}
