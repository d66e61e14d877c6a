import type { EmbeddingMatrix } from "../matrix/embeddingMatrix.js";

/** Top-k hits per query, best first: ids[q][j] scored scores[q][j] (inner product). */
export interface SearchResult {
  ids: string[][];
  scores: Float32Array[];
}

/**
 * What every index offers: rows with string ids, top-k by inner product (cosine similarity for the
 * encoder's normalised embeddings). A query gets fewer than k hits only when the index holds fewer
 * than k rows (or, for an approximate index, when its graph search finds fewer).
 */
export interface SearchIndex {
  /** Vector length. */
  readonly dimensions: number;
  /** Rows held. */
  readonly size: number;
  /** Adds rows [n, d] with unique ids. */
  add(ids: readonly string[], matrix: EmbeddingMatrix): void;
  /** Top-k rows for each query row of [nq, d]. */
  search(queries: EmbeddingMatrix, k: number): Promise<SearchResult>;
  /** Writes the index (and its ids) so that the class's static `load` reads it back. */
  save(file: string): Promise<void>;
}
