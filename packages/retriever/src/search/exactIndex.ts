import { TopK } from "@revela/text-data";
import * as tf from "@tensorflow/tfjs";
import { checkIds, checkK, checkMatrix, type EmbeddingMatrix } from "../matrix/embeddingMatrix.js";
import { EmbeddingsReader, EmbeddingsWriter } from "./embeddingsFile.js";
import type { SearchIndex, SearchResult } from "./searchIndex.js";

export interface ExactIndexOptions {
  /**
   * Corpus rows scored per block (default 8192). Memory during a search is about
   * blockRows × d × 4 bytes for the block plus min(nq, …) × blockRows × 4 for its scores — whatever
   * the corpus size, for a file-backed index.
   */
  blockRows?: number;
}

/** Most scores materialised at once ([query chunk, block]): 16M floats = 64 MiB. */
const MAX_SCORES = 16 * 1024 * 1024;

/**
 * Exact top-k by inner product. The corpus is scored block by block (one matrix product
 * [nq, d] · [rows, d]ᵀ on the tfjs backend per block, so wasm's XNNPACK or tfjs-node does the
 * arithmetic) and each query keeps a bounded heap of its k best rows, so memory does not grow with
 * the corpus. Rows live in memory (`new ExactIndex(d)`, `ExactIndex.load`) or stay on disk
 * (`ExactIndex.open`: streamed from an embeddings file at every search; read-only).
 */
export class ExactIndex implements SearchIndex {
  readonly blockRows: number;
  private readonly blocks: Float32Array[] = [];
  private readonly ids: string[] = [];
  private readonly idSet = new Set<string>();
  private readonly reader: EmbeddingsReader | null;

  constructor(
    readonly dimensions: number,
    options: ExactIndexOptions = {},
    reader: EmbeddingsReader | null = null,
  ) {
    if (!Number.isSafeInteger(dimensions) || dimensions < 1) {
      throw new Error(`ExactIndex: dimensions must be a positive integer, got ${dimensions}`);
    }
    const blockRows = options.blockRows ?? 8192;
    if (!Number.isSafeInteger(blockRows) || blockRows < 1) {
      throw new Error(`ExactIndex: options.blockRows must be a positive integer, got ${blockRows}`);
    }
    this.blockRows = blockRows;
    this.reader = reader;
  }

  /** An index that reads its rows from an embeddings file at each search (bounded memory; read-only). */
  static async open(file: string, options: ExactIndexOptions = {}): Promise<ExactIndex> {
    const reader = await EmbeddingsReader.open(file);
    return new ExactIndex(reader.dimensions, options, reader);
  }

  /** An in-memory index holding the rows of an embeddings file. */
  static async load(file: string, options: ExactIndexOptions = {}): Promise<ExactIndex> {
    const reader = await EmbeddingsReader.open(file);
    try {
      const index = new ExactIndex(reader.dimensions, options);
      for (let start = 0; start < reader.count; start += index.blockRows) {
        const rows = Math.min(index.blockRows, reader.count - start);
        index.add(reader.ids.slice(start, start + rows), await reader.readRows(start, rows));
      }
      return index;
    } finally {
      await reader.close();
    }
  }

  get size(): number {
    return this.reader ? this.reader.count : this.ids.length;
  }

  /** Whether rows are streamed from a file rather than held in memory. */
  get fileBacked(): boolean {
    return this.reader !== null;
  }

  add(ids: readonly string[], matrix: EmbeddingMatrix): void {
    const op = "ExactIndex.add";
    if (this.reader) {
      throw new Error(`${op}: this index streams ${this.reader.file} read-only; append with EmbeddingsWriter instead`);
    }
    checkMatrix(op, "matrix", matrix, this.dimensions);
    checkIds(op, ids, matrix.shape[0]);
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (this.idSet.has(id) || seen.has(id))
        throw new Error(`${op}: ids[${i}] = ${JSON.stringify(id)} is already in the index`);
      seen.add(id);
    });
    const d = this.dimensions;
    for (let start = 0; start < ids.length; start += this.blockRows) {
      const end = Math.min(start + this.blockRows, ids.length);
      this.blocks.push(matrix.data.slice(start * d, end * d)); // a copy: the caller may reuse its buffer
    }
    for (const id of ids) {
      this.ids.push(id);
      this.idSet.add(id);
    }
  }

  async search(queries: EmbeddingMatrix, k: number): Promise<SearchResult> {
    const op = "ExactIndex.search";
    checkMatrix(op, "queries", queries, this.dimensions);
    checkK(op, k);
    // Without initBackend, tfjs starts its highest-priority backend lazily; make sure it has.
    await tf.ready();
    const [nq, d] = queries.shape;
    const heaps = Array.from({ length: nq }, () => new TopK<number>(Math.min(k, Math.max(this.size, 1)), byRow));
    const queryRows = Math.max(1, Math.min(nq, Math.floor(MAX_SCORES / this.blockRows)));
    const queryChunks: tf.Tensor2D[] = [];
    for (let q = 0; q < nq; q += queryRows) {
      const rows = Math.min(queryRows, nq - q);
      queryChunks.push(tf.tensor2d(queries.data.subarray(q * d, (q + rows) * d), [rows, d]));
    }
    try {
      let base = 0;
      for await (const block of this.corpusBlocks()) {
        const rows = block.length / d;
        // [rows, d]; freed at the end of this block.
        const corpus = tf.tensor2d(block, [rows, d]);
        try {
          queryChunks.forEach((chunk, c) => {
            // scores: [chunkRows, rows]
            const product = tf.matMul(chunk, corpus, false, true);
            const scores = product.dataSync() as Float32Array;
            product.dispose();
            const firstQuery = c * queryRows;
            for (let i = 0; i < chunk.shape[0]; i++) {
              const heap = heaps[firstQuery + i] as TopK<number>;
              const offset = i * rows;
              let threshold = heap.threshold;
              for (let r = 0; r < rows; r++) {
                const s = scores[offset + r] as number;
                if (s > threshold) {
                  heap.offer(s, base + r);
                  threshold = heap.threshold;
                }
              }
            }
          });
        } finally {
          corpus.dispose();
        }
        base += rows;
      }
    } finally {
      tf.dispose(queryChunks);
    }
    const ids = this.reader ? this.reader.ids : this.ids;
    const result: SearchResult = { ids: [], scores: [] };
    for (const heap of heaps) {
      const { scores, keys } = heap.sorted();
      result.ids.push(keys.map((r) => ids[r] as string));
      result.scores.push(Float32Array.from(scores));
    }
    return result;
  }

  /** Writes the rows and ids as an embeddings file (see saveEmbeddings). */
  async save(file: string): Promise<void> {
    const writer = await EmbeddingsWriter.create(file, this.dimensions);
    try {
      let start = 0;
      for await (const block of this.corpusBlocks()) {
        const rows = block.length / this.dimensions;
        const ids = this.reader ? this.reader.ids : this.ids;
        await writer.append(ids.slice(start, start + rows), { data: block, shape: [rows, this.dimensions] });
        start += rows;
      }
    } catch (e) {
      await writer.abort();
      throw e;
    }
    await writer.close();
  }

  /** Releases the file handle of a file-backed index. */
  async close(): Promise<void> {
    await this.reader?.close();
  }

  private async *corpusBlocks(): AsyncGenerator<Float32Array> {
    if (!this.reader) {
      yield* this.blocks;
      return;
    }
    for (let start = 0; start < this.reader.count; start += this.blockRows) {
      const rows = Math.min(this.blockRows, this.reader.count - start);
      yield (await this.reader.readRows(start, rows)).data;
    }
  }
}

/** Equal scores: the earlier row first, as a stable sort of the brute-force scores has them. */
const byRow = (a: number, b: number): number => a - b;
