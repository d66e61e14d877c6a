import { type BatchOptions, batchTokenIds, type EncodedBatch } from "./batchTokenIds.js";
import type { DecodeOptions, EncodeBatchOptions, FileTokenizer, TextTokenizer } from "./textTokenizer.js";
import { UNKNOWN_COMPACT_ID, type VocabularyCompaction } from "./vocabularyCompaction.js";

export interface CompactDecodeOptions extends DecodeOptions {
  /** Text for each unknown-bucket id (default U+FFFD, the replacement character). */
  unknownText?: string;
}

/**
 * A tokenizer whose ids are a {@link VocabularyCompaction}'s compact ids: encode and encodeBatch give
 * compact ids (tokens outside the compaction become the unknown bucket), decode takes them, and
 * vocabSize, EOS, pad and BOS are compact too — so a model with a small embedding table uses it
 * exactly as it would the full tokenizer.
 */
export class CompactTokenizer implements TextTokenizer {
  readonly base: FileTokenizer;
  readonly compaction: VocabularyCompaction;
  readonly vocabSize: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  readonly unknownTokenId = UNKNOWN_COMPACT_ID;

  constructor(base: FileTokenizer, compaction: VocabularyCompaction) {
    if (compaction.originalVocabSize !== base.vocabSize) {
      throw new Error(
        `CompactTokenizer: the compaction was built for a vocabulary of ${compaction.originalVocabSize} tokens, but ${base.source} has ${base.vocabSize}`,
      );
    }
    const special = (field: string, id: number): number => {
      if (!compaction.has(id)) {
        throw new Error(
          `CompactTokenizer: the compaction does not keep the tokenizer's ${field} (id ${id}); rebuild it with this tokenizer`,
        );
      }
      return compaction.toCompact([id])[0]!;
    };
    this.base = base;
    this.compaction = compaction;
    this.vocabSize = compaction.size;
    this.eosTokenId = special("EOS", base.eosTokenId);
    this.padTokenId = special("pad token", base.padTokenId);
    this.bosTokenId = base.bosTokenId === null ? null : special("BOS", base.bosTokenId);
  }

  encode(text: string): number[] {
    return Array.from(this.compaction.toCompact(this.base.encode(text)));
  }

  encodeBatch(texts: readonly string[], options: EncodeBatchOptions): EncodedBatch {
    const batch = this.base.encodeBatch(texts, options);
    // Padding and EOS are kept tokens, so mapping every position (mask or not) is correct.
    batch.inputIds.set(this.compaction.toCompact(batch.inputIds));
    return batch;
  }

  batchIds(sequences: readonly ArrayLike<number>[], options: BatchOptions): EncodedBatch {
    const op = "CompactTokenizer.batchIds";
    if (Array.isArray(sequences)) {
      // toOriginal range-checks the ids against the compact vocabulary.
      sequences.forEach((s, i) => {
        this.compaction.toOriginal(checkSequence(op, s, i));
      });
    }
    return batchTokenIds(sequences, options, this, op);
  }

  /** Decodes compact ids; unknown-bucket ids become `unknownText`. */
  decode(ids: ArrayLike<number>, options: CompactDecodeOptions = {}): string {
    const { unknownText = "\uFFFD", ...rest } = options;
    const original = this.compaction.toOriginal(ids);
    // Decode the runs between unknown ids separately: byte-level decoders work on whole runs.
    const parts: string[] = [];
    let start = 0;
    for (let i = 0; i <= original.length; i++) {
      if (i === original.length || original[i] === -1) {
        if (i > start) parts.push(this.base.decode(original.subarray(start, i), rest));
        if (i < original.length) parts.push(unknownText);
        start = i + 1;
      }
    }
    return parts.join("");
  }
}

function checkSequence(op: string, s: ArrayLike<number>, i: number): ArrayLike<number> {
  if (s === null || typeof s !== "object" || typeof s.length !== "number") {
    throw new Error(`${op}: sequences[${i}] must be an array of token ids`);
  }
  return s;
}
