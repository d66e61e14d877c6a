import type { BatchOptions, EncodedBatch } from "./batchTokenIds.js";

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, pad, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export interface EncodeBatchOptions extends BatchOptions {
  /** Text put before every input before tokenizing (e.g. "passage: "), as the Revela paper does. */
  prefix?: string;
}

/** What models and trainers need from a tokenizer; both Tokenizer and CompactTokenizer are one. */
export interface TextTokenizer {
  /** Ids run over 0 .. vocabSize − 1 (the embedding table needs at least this many rows). */
  readonly vocabSize: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  /** The text's ids (with BOS if the tokenizer adds one; no EOS). */
  encode(text: string): number[];
  /** Row-major [batch, seqLen] ids and mask; see {@link BatchOptions}. */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions): EncodedBatch;
  /** Pads id sequences (already ids of this tokenizer) into a batch, appending EOS as encodeBatch does. */
  batchIds(sequences: readonly ArrayLike<number>[], options: BatchOptions): EncodedBatch;
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
}

/**
 * A tokenizer read from its files (Tokenizer): what a vocabulary compaction wraps. An interface, so
 * that CompactTokenizer needs nothing from the file that builds it.
 */
export interface FileTokenizer extends TextTokenizer {
  /** The file it was read from. */
  readonly source: string;
  /** Whether `encode` puts BOS first. */
  readonly addBosToken: boolean;
}
