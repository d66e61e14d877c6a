import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A map from a large tokenizer vocabulary to the ids a corpus actually uses. Models trained from
 * scratch on CPU cannot afford Llama-3's 128k-row embedding table (and output layer); a corpus of a
 * few thousand documents uses perhaps 10–20k of those ids. Compact ids are:
 *
 * - 0: the unknown bucket, for every original id outside the compaction;
 * - 1 .. size − 1: the kept original ids, in ascending original order (so the mapping depends only
 *   on which ids are kept, not on counts or corpus order).
 *
 * The tokenizer's EOS, pad and BOS are always kept, so batching and pooling work in compact space.
 * Mapping back, the unknown bucket becomes {@link UNKNOWN_ORIGINAL_ID} (−1): it stands for many
 * original tokens and none can be chosen.
 */

export const VOCAB_COMPACTION_FILE = "vocab_compaction.json";
export const VOCAB_COMPACTION_FORMAT = "revela-vocabulary-compaction";
export const VOCAB_COMPACTION_VERSION = 1;
/** The compact id of the unknown bucket. */
export const UNKNOWN_COMPACT_ID = 0;
/** What toOriginal gives for the unknown bucket. */
export const UNKNOWN_ORIGINAL_ID = -1;

export interface VocabularyCompactionJSON {
  format: typeof VOCAB_COMPACTION_FORMAT;
  version: typeof VOCAB_COMPACTION_VERSION;
  /** Vocabulary size of the tokenizer the compaction was built for. */
  originalVocabSize: number;
  /** Kept original ids, ascending; compact id of originalIds[i] is i + 1. */
  originalIds: number[];
}

/** What building a compaction needs from a tokenizer. */
export interface CompactionSource {
  readonly vocabSize: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  encode(text: string): number[];
}

export interface CompactionFromTextsOptions {
  /** Keep ids seen at least this often (default 1). */
  minCount?: number;
  /** Original ids to keep whatever their count (EOS, pad and BOS are always kept). */
  keep?: readonly number[];
  /**
   * Also count each text tokenized after each of these prefixes (e.g. ["passage: ", "query: "]): a
   * prefix changes how the first word tokenizes ("Hello" vs " Hello"). Default [""]: the text alone.
   */
  prefixes?: readonly string[];
}

export class VocabularyCompaction {
  readonly originalVocabSize: number;
  /** Number of compact ids, the unknown bucket included. */
  readonly size: number;
  readonly unknownId = UNKNOWN_COMPACT_ID;
  private readonly originalIds: Int32Array; // compact id → original id (index 0: unknown)
  private readonly compactIds: Int32Array; // original id → compact id

  private constructor(originalVocabSize: number, kept: readonly number[]) {
    this.originalVocabSize = originalVocabSize;
    this.size = kept.length + 1;
    this.originalIds = new Int32Array(this.size);
    this.originalIds[0] = UNKNOWN_ORIGINAL_ID;
    this.originalIds.set(kept, 1);
    this.compactIds = new Int32Array(originalVocabSize).fill(UNKNOWN_COMPACT_ID);
    kept.forEach((id, i) => {
      this.compactIds[id] = i + 1;
    });
  }

  /** Keeps the ids `tokenizer` produces on `texts` (at least minCount times), plus special tokens and `keep`. */
  static fromTexts(
    tokenizer: CompactionSource,
    texts: readonly string[],
    options: CompactionFromTextsOptions = {},
  ): VocabularyCompaction {
    const op = "VocabularyCompaction.fromTexts";
    const vocabSize = tokenizer?.vocabSize;
    if (!Number.isInteger(vocabSize) || vocabSize < 1)
      throw new Error(`${op}: tokenizer must be a tokenizer with a vocabSize`);
    if (!Array.isArray(texts)) throw new Error(`${op}: texts must be an array of strings`);
    const { minCount = 1, keep = [], prefixes = [""] } = options;
    if (!Number.isInteger(minCount) || minCount < 1)
      throw new Error(`${op}: options.minCount must be an integer ≥ 1, got ${minCount}`);
    if (!Array.isArray(prefixes) || prefixes.length === 0 || !prefixes.every((p) => typeof p === "string")) {
      throw new Error(`${op}: options.prefixes must be a non-empty array of strings`);
    }
    if (!Array.isArray(keep)) throw new Error(`${op}: options.keep must be an array of token ids`);
    const counts = new Uint32Array(vocabSize);
    texts.forEach((text, i) => {
      if (typeof text !== "string")
        throw new Error(`${op}: texts[${i}] must be a string, got ${text === null ? "null" : typeof text}`);
      for (const prefix of prefixes) for (const id of tokenizer.encode(prefix + text)) counts[id]!++;
    });
    const kept = new Set<number>();
    for (let id = 0; id < vocabSize; id++) if (counts[id]! >= minCount) kept.add(id);
    const always = [
      tokenizer.eosTokenId,
      tokenizer.padTokenId,
      ...(tokenizer.bosTokenId === null ? [] : [tokenizer.bosTokenId]),
    ];
    keep.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new Error(`${op}: options.keep[${i}] = ${id} is not a token id (0 .. ${vocabSize - 1})`);
      }
      kept.add(id);
    });
    for (const id of always) kept.add(id);
    return new VocabularyCompaction(
      vocabSize,
      [...kept].sort((a, b) => a - b),
    );
  }

  /** From kept original ids directly (any order; duplicates are an error). */
  static fromOriginalIds(originalVocabSize: number, originalIds: readonly number[]): VocabularyCompaction {
    return VocabularyCompaction.fromJSON({
      format: VOCAB_COMPACTION_FORMAT,
      version: VOCAB_COMPACTION_VERSION,
      originalVocabSize,
      originalIds: [...originalIds].sort((a, b) => a - b),
    });
  }

  /** Validates a parsed JSON object; `source` (e.g. the file) names it in messages. */
  static fromJSON(json: unknown, source = "vocabulary compaction"): VocabularyCompaction {
    const fail = (problem: string): never => {
      throw new Error(`VocabularyCompaction: ${source}: ${problem}`);
    };
    if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("must be a JSON object");
    const o = json as Record<string, unknown>;
    if (o.format !== VOCAB_COMPACTION_FORMAT) {
      fail(`field "format" must be "${VOCAB_COMPACTION_FORMAT}", got ${JSON.stringify(o.format)}`);
    }
    if (o.version !== VOCAB_COMPACTION_VERSION) {
      fail(`field "version" is ${JSON.stringify(o.version)}; this code reads version ${VOCAB_COMPACTION_VERSION}`);
    }
    const vocabSize = o.originalVocabSize;
    if (!Number.isSafeInteger(vocabSize) || (vocabSize as number) < 1) {
      fail(`field "originalVocabSize" must be a positive integer, got ${JSON.stringify(vocabSize)}`);
    }
    if (!Array.isArray(o.originalIds)) return fail(`field "originalIds" must be an array of token ids`);
    const ids = o.originalIds as unknown[];
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= (vocabSize as number)) {
        fail(`originalIds[${i}] = ${JSON.stringify(id)} is not a token id (0 .. ${(vocabSize as number) - 1})`);
      }
      if (i > 0 && (id as number) <= (ids[i - 1] as number)) {
        fail(`originalIds must be strictly ascending: originalIds[${i}] = ${id} follows ${ids[i - 1]}`);
      }
    });
    return new VocabularyCompaction(vocabSize as number, ids as number[]);
  }

  toJSON(): VocabularyCompactionJSON {
    return {
      format: VOCAB_COMPACTION_FORMAT,
      version: VOCAB_COMPACTION_VERSION,
      originalVocabSize: this.originalVocabSize,
      originalIds: Array.from(this.originalIds.subarray(1)),
    };
  }

  /** Writes `dir/vocab_compaction.json` (creating dir); returns the file's path. */
  async save(dir: string): Promise<string> {
    if (typeof dir !== "string" || dir.length === 0)
      throw new Error("VocabularyCompaction.save: dir must be a path string");
    await mkdir(dir, { recursive: true });
    const file = join(dir, VOCAB_COMPACTION_FILE);
    await writeFile(file, `${JSON.stringify(this.toJSON())}\n`);
    return file;
  }

  /** Reads `dir/vocab_compaction.json`. */
  static async load(dir: string): Promise<VocabularyCompaction> {
    if (typeof dir !== "string" || dir.length === 0)
      throw new Error("VocabularyCompaction.load: dir must be a path string");
    const file = join(dir, VOCAB_COMPACTION_FILE);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, "utf8"));
    } catch (e) {
      throw new Error(`VocabularyCompaction: cannot read ${file}: ${(e as Error).message}`);
    }
    return VocabularyCompaction.fromJSON(parsed, file);
  }

  /** Whether an original id has a compact id of its own. */
  has(originalId: number): boolean {
    return (
      Number.isInteger(originalId) &&
      originalId >= 0 &&
      originalId < this.originalVocabSize &&
      this.compactIds[originalId] !== UNKNOWN_COMPACT_ID
    );
  }

  /** Original → compact ids; ids outside the compaction become the unknown bucket (0). */
  toCompact(ids: ArrayLike<number>): Int32Array {
    const out = new Int32Array(checkLength("toCompact", ids));
    for (let i = 0; i < out.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.originalVocabSize) {
        throw new Error(
          `VocabularyCompaction.toCompact: ids[${i}] = ${id} is not a token id (0 .. ${this.originalVocabSize - 1})`,
        );
      }
      out[i] = this.compactIds[id]!;
    }
    return out;
  }

  /** Compact → original ids; the unknown bucket becomes −1. */
  toOriginal(ids: ArrayLike<number>): Int32Array {
    const out = new Int32Array(checkLength("toOriginal", ids));
    for (let i = 0; i < out.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.size) {
        throw new Error(
          `VocabularyCompaction.toOriginal: ids[${i}] = ${id} is not a compact id (0 .. ${this.size - 1})`,
        );
      }
      out[i] = this.originalIds[id]!;
    }
    return out;
  }
}

function checkLength(op: string, ids: ArrayLike<number>): number {
  if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
    throw new Error(`VocabularyCompaction.${op}: ids must be an array of token ids`);
  }
  return ids.length;
}
