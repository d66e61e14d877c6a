import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import {
  UNKNOWN_COMPACT_ID,
  UNKNOWN_ORIGINAL_ID,
  VOCAB_COMPACTION_FILE,
  VocabularyCompaction,
} from "../../src/tokenizer/vocabularyCompaction.js";
import { LLAMA3_DIR, loadTokenizer, QWEN3_DIR } from "./realTokenizers.js";

const corpus = [
  "Dense retrievers learn from language modeling.",
  "The retriever scores every pair of documents in a batch.",
  "Those scores weight a cross-document attention.",
  "The language model is trained by next-token prediction.",
];

let llama: Tokenizer;
let scratch: string;
beforeAll(async () => {
  llama = await loadTokenizer(LLAMA3_DIR);
  scratch = await mkdtemp(join(tmpdir(), "revela-compaction-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("VocabularyCompaction", () => {
  it("keeps exactly the corpus's ids plus EOS/pad/BOS, in ascending order after the unknown bucket", () => {
    const c = VocabularyCompaction.fromTexts(llama, corpus);
    const used = new Set(corpus.flatMap((t) => llama.encode(t)));
    const expected = [...new Set([...used, 128000, 128001])].sort((a, b) => a - b);
    expect(c.size).toBe(expected.length + 1);
    expect(c.originalVocabSize).toBe(128256);
    expect(c.toJSON().originalIds).toEqual(expected);
    expect(Array.from(c.toOriginal(Array.from({ length: c.size }, (_, i) => i)))).toEqual([
      UNKNOWN_ORIGINAL_ID,
      ...expected,
    ]);
  });

  it("maps corpus ids to compact ids and back exactly; unseen ids go to the unknown bucket", () => {
    const c = VocabularyCompaction.fromTexts(llama, corpus);
    for (const text of corpus) {
      const ids = llama.encode(text);
      const compact = c.toCompact(ids);
      expect(compact.every((id) => id > 0 && id < c.size)).toBe(true);
      expect(Array.from(c.toOriginal(compact))).toEqual(ids);
    }
    const unseen = llama.encode(" zebra");
    expect(c.has(unseen[0]!)).toBe(false);
    expect(Array.from(c.toCompact(unseen))).toEqual(unseen.map(() => UNKNOWN_COMPACT_ID));
    expect(Array.from(c.toOriginal([UNKNOWN_COMPACT_ID]))).toEqual([-1]);
  });

  it("drops ids seen fewer than minCount times but always keeps special tokens and `keep`", () => {
    const c = VocabularyCompaction.fromTexts(llama, corpus, { minCount: 2, keep: [42] });
    const counts = new Map<number, number>();
    for (const id of corpus.flatMap((t) => llama.encode(t))) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n >= 2).map(([id]) => id);
    const once = [...counts].filter(([, n]) => n === 1).map(([id]) => id);
    expect(twice.length).toBeGreaterThan(0);
    expect(once.length).toBeGreaterThan(0);
    expect(twice.every((id) => c.has(id))).toBe(true);
    expect(once.some((id) => c.has(id))).toBe(false);
    expect([42, 128000, 128001].every((id) => c.has(id))).toBe(true);
  });

  it("counts the first word as it tokenizes after each prefix", () => {
    const plain = VocabularyCompaction.fromTexts(llama, ["Hello"]);
    const withPrefix = VocabularyCompaction.fromTexts(llama, ["Hello"], { prefixes: ["", "passage: "] });
    const prefixed = llama.encode("passage: Hello");
    expect(prefixed.every((id) => withPrefix.has(id))).toBe(true);
    expect(prefixed.every((id) => plain.has(id))).toBe(false);
  });

  it("saves to vocab_compaction.json and loads back identically", async () => {
    const c = VocabularyCompaction.fromTexts(llama, corpus);
    const file = await c.save(join(scratch, "run1"));
    expect(file).toBe(join(scratch, "run1", VOCAB_COMPACTION_FILE));
    const json = JSON.parse(await readFile(file, "utf8"));
    expect(json.format).toBe("revela-vocabulary-compaction");
    expect(json.version).toBe(1);
    const back = await VocabularyCompaction.load(join(scratch, "run1"));
    expect(back.toJSON()).toEqual(c.toJSON());
    expect(Array.from(back.toCompact(llama.encode(corpus[0]!)))).toEqual(
      Array.from(c.toCompact(llama.encode(corpus[0]!))),
    );
  });

  it("validates JSON, naming the field and the file", async () => {
    const good = VocabularyCompaction.fromOriginalIds(10, [5, 1, 3]).toJSON();
    expect(good.originalIds).toEqual([1, 3, 5]);
    const bad: [object, RegExp][] = [
      [{ ...good, format: "other" }, /field "format" must be "revela-vocabulary-compaction"/],
      [{ ...good, version: 2 }, /field "version" is 2; this code reads version 1/],
      [{ ...good, originalVocabSize: 0 }, /"originalVocabSize" must be a positive integer/],
      [{ ...good, originalIds: [1, 10] }, /originalIds\[1\] = 10 is not a token id \(0 \.\. 9\)/],
      [{ ...good, originalIds: [3, 3] }, /strictly ascending: originalIds\[1\] = 3 follows 3/],
    ];
    for (const [json, message] of bad) expect(() => VocabularyCompaction.fromJSON(json)).toThrow(message);
    const dir = join(scratch, "corrupt");
    await VocabularyCompaction.fromOriginalIds(10, [1]).save(dir);
    await writeFile(join(dir, VOCAB_COMPACTION_FILE), JSON.stringify({ ...good, version: 7 }));
    await expect(VocabularyCompaction.load(dir)).rejects.toThrow(
      new RegExp(`${VOCAB_COMPACTION_FILE}: field "version" is 7`),
    );
    await expect(VocabularyCompaction.load(join(scratch, "absent"))).rejects.toThrow(
      /cannot read .*vocab_compaction\.json: ENOENT/,
    );
  });

  it("rejects out-of-range ids and bad options with the index", () => {
    const c = VocabularyCompaction.fromOriginalIds(10, [1, 2]);
    expect(() => c.toCompact([1, 10])).toThrow(/ids\[1\] = 10 is not a token id \(0 \.\. 9\)/);
    expect(() => c.toOriginal([3])).toThrow(/ids\[0\] = 3 is not a compact id \(0 \.\. 2\)/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
    expect(() => VocabularyCompaction.fromTexts(llama, ["a", null as any])).toThrow(
      /texts\[1\] must be a string, got null/,
    );
    expect(() => VocabularyCompaction.fromTexts(llama, ["a"], { minCount: 0 })).toThrow(
      /minCount must be an integer ≥ 1/,
    );
    expect(() => VocabularyCompaction.fromTexts(llama, ["a"], { keep: [-2] })).toThrow(
      /keep\[0\] = -2 is not a token id/,
    );
  });
});

describe("CompactTokenizer", () => {
  it("encodes batches in compact ids with compact EOS and pad, and decodes them back to the text", () => {
    const c = VocabularyCompaction.fromTexts(llama, corpus);
    const compact = llama.withCompaction(c);
    expect(compact.vocabSize).toBe(c.size);
    expect(compact.eosTokenId).toBe(c.toCompact([128001])[0]);
    expect(compact.padTokenId).toBe(compact.eosTokenId);
    expect(compact.bosTokenId).toBe(c.toCompact([128000])[0]);

    const full = llama.encodeBatch(corpus.slice(0, 2), { maxLength: 12, paddingSide: "left" });
    const small = compact.encodeBatch(corpus.slice(0, 2), { maxLength: 12, paddingSide: "left" });
    expect(small.seqLen).toBe(full.seqLen);
    expect(Array.from(small.attentionMask)).toEqual(Array.from(full.attentionMask));
    expect(Array.from(small.inputIds)).toEqual(Array.from(c.toCompact(full.inputIds)));
    expect(small.inputIds.every((id) => id > 0 && id < c.size)).toBe(true);

    for (const text of corpus) expect(compact.decode(compact.encode(text))).toBe(text);
    const row0 = small.inputIds.subarray(0, small.seqLen).filter((_, i) => small.attentionMask[i] === 1);
    expect(compact.decode(row0, { skipSpecialTokens: true })).toBe(llama.decode(llama.encode(corpus[0]!).slice(0, 11)));
  });

  it("renders unknown-bucket ids as U+FFFD (or the text asked for)", () => {
    const c = VocabularyCompaction.fromTexts(llama, corpus);
    const compact = llama.withCompaction(c);
    const ids = compact.encode("The retriever scores zebras.");
    expect(ids).toContain(UNKNOWN_COMPACT_ID);
    expect(compact.decode(ids)).toMatch(/^The retriever scores.*\uFFFD/);
    expect(compact.decode(ids, { unknownText: "<unk>" })).toContain("<unk>");
    expect(() => compact.decode([c.size])).toThrow(/is not a compact id/);
  });

  it("refuses a compaction built for another vocabulary, or one missing the special tokens", async () => {
    const qwen = await loadTokenizer(QWEN3_DIR);
    const forQwen = VocabularyCompaction.fromTexts(qwen, corpus);
    expect(() => llama.withCompaction(forQwen)).toThrow(
      /built for a vocabulary of 151669 tokens, but .*tokenizer\.json has 128256/,
    );
    const noSpecials = VocabularyCompaction.fromOriginalIds(128256, [9906, 1917]);
    expect(() => llama.withCompaction(noSpecials)).toThrow(/does not keep the tokenizer's EOS \(id 128001\)/);
  });
});
