import { type Bm25Engine, createBm25Engine } from "@revela/text-data";
import { bm25Terms } from "./bm25Terms.js";
import type { BatcherOptions } from "./consecutiveBatcher.js";

export interface Bm25NeighbourBatcherOptions extends BatcherOptions {
  /**
   * Neighbours only from other documents than the seed chunk's (default false): the paper's groups
   * pair a text with BM25 hits from the rest of the corpus, so a chunk's own document cannot fill
   * its batch with the easy, same-document continuations.
   */
  otherDocuments?: boolean;
}

import { batcherFingerprint, epochBatchSizes, requireBatcherInputs, requireBatcherState } from "./epochLayout.js";
import { SeededRandom } from "./seededRandom.js";
import type { Batch, BatcherState, BatchSource, Chunk, RngState } from "./types.js";

/**
 * Topical batches from lexical neighbours: each batch is a random seed chunk plus its top-(B − 1)
 * BM25 neighbours among the chunks not yet used this epoch (wink-bm25-text-search over the chunk
 * texts, k1 = 1.2, b = 0.75), filled with random unused chunks when BM25 finds too few (a query
 * that shares no term with what is left), then shuffled. Every chunk appears exactly once per epoch,
 * with the same batch sizes as `ConsecutiveBatcher` (a remainder of one joins the last full batch).
 *
 * Batches are built lazily, one BM25 query each. The cursor stores the generator state at the start
 * of the epoch, so `restore()` rebuilds the epoch and replays `position` batches (BM25 queries, no
 * training) to reach exactly the state it was saved in.
 */
export class Bm25NeighbourBatcher implements BatchSource<Batch> {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  private readonly chunks: readonly Chunk[];
  private readonly sizes: number[];
  private readonly fingerprint: string;
  /** Absent when there are fewer than 3 chunks, the least wink-bm25 can index; batches are then random. */
  private readonly engine: Bm25Engine | undefined;
  private readonly otherDocuments: boolean;
  private epoch = 0;
  private position = 0;
  private epochStart: RngState;
  private rng!: SeededRandom;
  /** Unused chunk numbers (swap-remove) and where each sits in it, so removal and random picks are O(1). */
  private unused: number[] = [];
  private slot = new Int32Array(0);
  private used = new Uint8Array(0);

  constructor(chunks: readonly Chunk[], options: Bm25NeighbourBatcherOptions = {}) {
    const op = "Bm25NeighbourBatcher";
    const batchSize = options.batchSize ?? 16;
    requireBatcherInputs(op, chunks, batchSize);
    if (options.otherDocuments !== undefined && typeof options.otherDocuments !== "boolean")
      throw new Error(
        `${op}: options.otherDocuments must be true or false, got ${JSON.stringify(options.otherDocuments)}`,
      );
    this.otherDocuments = options.otherDocuments ?? false;
    this.batchSize = batchSize;
    this.chunks = [...chunks];
    this.sizes = epochBatchSizes(chunks.length, batchSize);
    this.batchesPerEpoch = this.sizes.length;
    this.fingerprint = batcherFingerprint(this.otherDocuments ? "bm25-other-docs" : "bm25", batchSize, chunks);
    if (chunks.length >= 3) {
      const engine = createBm25Engine();
      engine.defineConfig({ fldWeights: { text: 1 }, bm25Params: { k1: 1.2, b: 0.75, k: 1 }, ovFldNames: ["n"] });
      engine.definePrepTasks([bm25Terms]);
      for (const [n, c] of chunks.entries()) engine.addDoc({ text: c.text, n }, String(n));
      engine.consolidate();
      this.engine = engine;
    }
    this.epochStart = SeededRandom.fromSeed(options.seed ?? 0).state();
    this.startEpoch();
  }

  private startEpoch(): void {
    const n = this.chunks.length;
    this.rng = SeededRandom.fromState(this.epochStart);
    this.unused = Array.from({ length: n }, (_, i) => i);
    this.slot = Int32Array.from(this.unused);
    this.used = new Uint8Array(n);
  }

  private take(n: number): void {
    const at = this.slot[n] as number;
    const last = this.unused.pop() as number;
    if (last !== n) {
      this.unused[at] = last;
      this.slot[last] = at;
    }
    this.used[n] = 1;
  }

  private build(size: number): Chunk[] {
    const seed = this.unused[this.rng.int(this.unused.length)] as number;
    this.take(seed);
    const members = [seed];
    if (this.engine) {
      const seedDoc = (this.chunks[seed] as Chunk).docId;
      const chunks = this.chunks;
      const other = this.otherDocuments;
      const hits = this.engine.search(
        (this.chunks[seed] as Chunk).text,
        size - 1,
        (fields, used: Uint8Array) =>
          used[fields.n as number] === 0 && !(other && (chunks[fields.n as number] as Chunk).docId === seedDoc),
        this.used,
      );
      for (const [id] of hits) {
        const n = Number(id);
        this.take(n);
        members.push(n);
      }
    }
    while (members.length < size) {
      const n = this.unused[this.rng.int(this.unused.length)] as number;
      this.take(n);
      members.push(n);
    }
    return this.rng.shuffle(members).map((n) => this.chunks[n] as Chunk);
  }

  next(): Batch {
    const batch: Batch = {
      chunks: this.build(this.sizes[this.position] as number),
      epoch: this.epoch,
      index: this.position,
    };
    this.position++;
    if (this.position === this.batchesPerEpoch) {
      this.epoch++;
      this.position = 0;
      this.epochStart = this.rng.state();
      this.startEpoch();
    }
    return batch;
  }

  state(): BatcherState {
    return {
      epoch: this.epoch,
      position: this.position,
      rngState: { ...this.epochStart },
      fingerprint: this.fingerprint,
    };
  }

  restore(state: BatcherState): void {
    const s = requireBatcherState("Bm25NeighbourBatcher", state, this.fingerprint, this.batchesPerEpoch);
    this.epoch = s.epoch;
    this.epochStart = { ...s.rngState };
    this.startEpoch();
    for (this.position = 0; this.position < s.position; this.position++) {
      this.build(this.sizes[this.position] as number);
    }
  }
}
