/** One document of a corpus, as the readers yield it. */
export interface Document {
  id: string;
  title?: string;
  /** The text the chunker cuts (for BEIR corpora: `title + ". " + text` when a title exists). */
  text: string;
}

/** A passage of at most `maxWords` words cut from one document. */
export interface Chunk {
  /** `${docId}#${index}`: unique within a corpus whose document ids are unique. */
  id: string;
  docId: string;
  /** Position of this chunk within its document, from 0. */
  index: number;
  text: string;
}

/** What a batcher hands to a training step. */
export interface Batch {
  chunks: Chunk[];
  /** Epoch this batch belongs to, from 0. */
  epoch: number;
  /** Position of this batch within its epoch, from 0. */
  index: number;
}

/**
 * Where a batcher stands: the next batch is batch `position` of `epoch`, and `rngState` is the
 * seeded generator's state at the start of that epoch (the whole epoch's order derives from it).
 * `fingerprint` ties the cursor to the chunks, batch size and batcher kind it was taken from, so a
 * cursor restored against other data fails instead of silently producing other batches.
 */
export interface BatcherState {
  epoch: number;
  position: number;
  rngState: RngState;
  fingerprint: string;
}

/** Internal state of the alea generator (seedrandom), plain numbers so it survives JSON. */
export interface RngState {
  c: number;
  s0: number;
  s1: number;
  s2: number;
}

/** Anything `runTraining` can draw batches from and resume exactly. */
export interface BatchSource<B = Batch> {
  next(): B;
  state(): BatcherState;
  restore(state: BatcherState): void;
}
