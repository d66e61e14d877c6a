import { batcherFingerprint, epochBatchSizes, requireBatcherInputs, requireBatcherState } from "./epochLayout.js";
import { SeededRandom } from "./seededRandom.js";
import type { Batch, BatcherState, BatchSource, Chunk, RngState } from "./types.js";

export interface BatcherOptions {
  /** Chunks per batch, B. Default 16, as in the paper. */
  batchSize?: number;
  /** Seed of the generator behind every shuffle. Default 0. */
  seed?: string | number;
}

/**
 * Cheap topical batches of our own (not the paper's, which are BM25 groups: see
 * Bm25NeighbourBatcher): each epoch, documents in a seeded shuffled order, their chunks laid out
 * consecutively (a document's chunks stay together, in order), cut into batches of B, then shuffled
 * inside each batch — so a batch holds the chunks of a few documents, i.e. a few topics. Every chunk
 * appears exactly once per epoch; a remainder of one chunk joins the last full batch (B + 1), see
 * `epochBatchSizes`. `state()` / `restore()` make a resumed run see exactly the batches it would have.
 */
export class ConsecutiveBatcher implements BatchSource<Batch> {
  readonly batchSize: number;
  /** Batches in every epoch. */
  readonly batchesPerEpoch: number;
  private readonly documents: Chunk[][];
  private readonly sizes: number[];
  private readonly fingerprint: string;
  private epoch = 0;
  private position = 0;
  private epochStart: RngState;
  private plan: Chunk[][] = [];
  private nextEpochStart: RngState;

  constructor(chunks: readonly Chunk[], options: BatcherOptions = {}) {
    const op = "ConsecutiveBatcher";
    const batchSize = options.batchSize ?? 16;
    requireBatcherInputs(op, chunks, batchSize);
    this.batchSize = batchSize;
    const byDoc = new Map<string, Chunk[]>();
    for (const c of chunks) {
      const list = byDoc.get(c.docId);
      if (list) list.push(c);
      else byDoc.set(c.docId, [c]);
    }
    this.documents = [...byDoc.values()];
    this.sizes = epochBatchSizes(chunks.length, batchSize);
    this.batchesPerEpoch = this.sizes.length;
    this.fingerprint = batcherFingerprint("consecutive", batchSize, chunks);
    this.epochStart = SeededRandom.fromSeed(options.seed ?? 0).state();
    this.nextEpochStart = this.planEpoch();
  }

  /** Lays out the current epoch from `epochStart`; returns the generator state the next epoch starts from. */
  private planEpoch(): RngState {
    const rng = SeededRandom.fromState(this.epochStart);
    const order = rng.shuffle(this.documents.map((_, i) => i));
    const laidOut: Chunk[] = [];
    for (const d of order) laidOut.push(...(this.documents[d] as Chunk[]));
    this.plan = [];
    let offset = 0;
    for (const size of this.sizes) {
      this.plan.push(rng.shuffle(laidOut.slice(offset, offset + size)));
      offset += size;
    }
    return rng.state();
  }

  next(): Batch {
    const batch: Batch = {
      chunks: [...(this.plan[this.position] as Chunk[])],
      epoch: this.epoch,
      index: this.position,
    };
    this.position++;
    if (this.position === this.batchesPerEpoch) {
      this.epoch++;
      this.position = 0;
      this.epochStart = this.nextEpochStart;
      this.nextEpochStart = this.planEpoch();
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
    const s = requireBatcherState("ConsecutiveBatcher", state, this.fingerprint, this.batchesPerEpoch);
    this.epoch = s.epoch;
    this.position = s.position;
    this.epochStart = { ...s.rngState };
    this.nextEpochStart = this.planEpoch();
  }
}
