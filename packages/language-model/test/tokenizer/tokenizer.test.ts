import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { LLAMA3_DIR, loadTokenizer, QWEN3_DIR, rawVocab } from "./realTokenizers.js";

let llama: Tokenizer;
let qwen: Tokenizer;
let scratch: string;
beforeAll(async () => {
  [llama, qwen] = await Promise.all([loadTokenizer(LLAMA3_DIR), loadTokenizer(QWEN3_DIR)]);
  scratch = await mkdtemp(join(tmpdir(), "revela-tokenizer-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Row b of a [B, L] Int32Array. */
const row = (a: Int32Array, b: number, seqLen: number) => Array.from(a.subarray(b * seqLen, (b + 1) * seqLen));

describe("Llama-3 tokenizer", () => {
  it("encodes 'Hello world' to the ids of 'Hello' and 'Ġworld' in tokenizer.json, without BOS", () => {
    const vocab = rawVocab(LLAMA3_DIR);
    expect([vocab.get("Hello"), vocab.get("Ġworld")]).toEqual([9906, 1917]);
    expect(llama.encode("Hello world")).toEqual([9906, 1917]);
    expect(llama.addBosToken).toBe(false); // this tokenizer.json's post-processor is ByteLevel only
  });

  it("reads special tokens from tokenizer_config.json, padding with EOS when there is no pad token", () => {
    const vocab = rawVocab(LLAMA3_DIR);
    expect(llama.eosTokenId).toBe(vocab.get("<|end_of_text|>"));
    expect(llama.eosTokenId).toBe(128001);
    expect(llama.bosTokenId).toBe(128000);
    expect(llama.padTokenId).toBe(llama.eosTokenId);
    expect(llama.vocabSize).toBe(128256);
    expect(llama.specialTokenIds.has(128001)).toBe(true);
    expect(llama.specialTokenIds.has(9906)).toBe(false);
  });

  it("puts BOS first when asked, or when tokenizer.json's post-processor does (Llama-3.2 style)", async () => {
    const json = JSON.parse(await readFile(join(LLAMA3_DIR, "tokenizer.json"), "utf8"));
    const config = JSON.parse(await readFile(join(LLAMA3_DIR, "tokenizer_config.json"), "utf8"));
    expect(Tokenizer.fromJSON(json, config, { addBosToken: true }).encode("Hello world")).toEqual([128000, 9906, 1917]);
    const bos = { id: "<|begin_of_text|>", type_id: 0 };
    json.post_processor = {
      type: "Sequence",
      processors: [
        { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: "TemplateProcessing",
          single: [{ SpecialToken: bos }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [
            { SpecialToken: bos },
            { Sequence: { id: "A", type_id: 0 } },
            { SpecialToken: bos },
            { Sequence: { id: "B", type_id: 1 } },
          ],
          special_tokens: {
            "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] },
          },
        },
      ],
    };
    const withTemplate = Tokenizer.fromJSON(json, config);
    expect(withTemplate.addBosToken).toBe(true);
    expect(withTemplate.encode("Hello world")).toEqual([128000, 9906, 1917]);
    // EOS is appended by us, after BOS + text, never by the post-processor.
    const batch = withTemplate.encodeBatch(["Hello world"], { maxLength: 8 });
    expect(Array.from(batch.inputIds)).toEqual([128000, 9906, 1917, 128001]);
  });

  it("appends EOS, pads on the right with the pad id, and masks the padding", () => {
    const a = llama.encode("Hello world");
    const b = llama.encode("The quick brown fox jumps over the lazy dog.");
    const batch = llama.encodeBatch(["Hello world", "The quick brown fox jumps over the lazy dog."], { maxLength: 64 });
    const L = b.length + 1;
    expect(batch.batch).toBe(2);
    expect(batch.seqLen).toBe(L);
    expect(Array.from(batch.lengths)).toEqual([a.length + 1, L]);
    const pad = Array(L - a.length - 1).fill(llama.padTokenId);
    expect(row(batch.inputIds, 0, L)).toEqual([...a, 128001, ...pad]);
    expect(row(batch.inputIds, 1, L)).toEqual([...b, 128001]);
    expect(row(batch.attentionMask, 0, L)).toEqual([...Array(a.length + 1).fill(1), ...Array(pad.length).fill(0)]);
    expect(row(batch.attentionMask, 1, L)).toEqual(Array(L).fill(1));
  });

  it("pads on the left so that every row ends with EOS at position L − 1", () => {
    const texts = ["Hi", "A somewhat longer sentence here", ""];
    const batch = llama.encodeBatch(texts, { maxLength: 32, paddingSide: "left" });
    const L = batch.seqLen;
    for (let b = 0; b < texts.length; b++) {
      const ids = llama.encode(texts[b]!);
      const padCount = L - ids.length - 1;
      expect(row(batch.inputIds, b, L)).toEqual([...Array(padCount).fill(llama.padTokenId), ...ids, llama.eosTokenId]);
      expect(row(batch.attentionMask, b, L)).toEqual([...Array(padCount).fill(0), ...Array(ids.length + 1).fill(1)]);
    }
    expect(batch.lengths[2]).toBe(1); // the empty text is just EOS
  });

  it("truncates to maxLength − 1 tokens and then appends EOS", () => {
    const text = "one two three four five six seven eight nine ten";
    const ids = llama.encode(text);
    expect(ids.length).toBeGreaterThan(5);
    const batch = llama.encodeBatch([text, "one"], { maxLength: 5 });
    expect(batch.seqLen).toBe(5);
    expect(row(batch.inputIds, 0, 5)).toEqual([...ids.slice(0, 4), llama.eosTokenId]);
    expect(Array.from(batch.lengths)).toEqual([5, 2]);
    const noEos = llama.encodeBatch([text], { maxLength: 5, appendEos: false });
    expect(Array.from(noEos.inputIds)).toEqual(ids.slice(0, 5));
  });

  it("pads to maxLength on request, and tokenizes prefix + text as one string", () => {
    const batch = llama.encodeBatch(["Hello world"], { maxLength: 10, padding: "maxLength", prefix: "passage: " });
    const ids = llama.encode("passage: Hello world");
    expect(ids).not.toEqual([...llama.encode("passage: "), ...llama.encode("Hello world")]); // " Hello" ≠ "Hello"
    expect(batch.seqLen).toBe(10);
    expect(row(batch.inputIds, 0, 10)).toEqual([
      ...ids,
      llama.eosTokenId,
      ...Array(10 - ids.length - 1).fill(llama.padTokenId),
    ]);
  });

  it("decodes back to the text, and drops special tokens on request", () => {
    for (const text of [
      "Hello world",
      " leading space, punctuation! 123456",
      "naïve café 日本語 🙂",
      "tabs\tand\nnewlines\n\n",
    ]) {
      expect(llama.decode(llama.encode(text))).toBe(text);
    }
    const batch = llama.encodeBatch(["Hello world"], { maxLength: 8 });
    expect(llama.decode(batch.inputIds)).toBe("Hello world<|end_of_text|>");
    expect(llama.decode(batch.inputIds, { skipSpecialTokens: true })).toBe("Hello world");
    expect(llama.decode([])).toBe("");
  });

  it("batches already-tokenized ids (e.g. the first half of a chunk) the same way", () => {
    const ids = llama.encode("The quick brown fox jumps over the lazy dog.");
    const half = ids.slice(0, Math.ceil(ids.length / 2));
    const batch = llama.batchIds([half, ids], { maxLength: 64 });
    expect(row(batch.inputIds, 0, batch.seqLen).slice(0, half.length + 1)).toEqual([...half, llama.eosTokenId]);
    expect(() => llama.batchIds([[1, 200000]], { maxLength: 4 })).toThrow(
      /sequences\[0\]\[1\] = 200000 is not a token id \(0 \.\. 128255\)/,
    );
  });

  it("rejects bad input naming what and where", async () => {
    expect(() => llama.encodeBatch(["a"], { maxLength: 1 })).toThrow(/maxLength must be an integer ≥ 2.*got 1/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
    expect(() => llama.encodeBatch(["a", 3 as any], { maxLength: 4 })).toThrow(
      /texts\[1\] must be a string, got number/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
    expect(() => llama.encodeBatch("a" as any, { maxLength: 4 })).toThrow(/texts must be an array/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
    expect(() => llama.encodeBatch(["a"], { maxLength: 4, paddingSide: "top" as any })).toThrow(
      /paddingSide must be "right" or "left"/,
    );
    expect(() => llama.decode([9906, -1])).toThrow(/ids\[1\] = -1 is not a token id/);
    const missing = join(scratch, "nowhere", "tokenizer.json");
    await expect(Tokenizer.fromFiles(missing)).rejects.toThrow(
      new RegExp(`cannot read tokenizer\\.json ${missing.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: ENOENT`),
    );
  });

  it("loads a directory without tokenizer_config.json only when told the EOS token", async () => {
    const dir = join(scratch, "no-config");
    await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
    await copyFile(join(LLAMA3_DIR, "tokenizer.json"), join(dir, "tokenizer.json"));
    await expect(Tokenizer.fromDir(dir)).rejects.toThrow(/no EOS token for .*tokenizer\.json.*options\.eosToken/);
    const t = await Tokenizer.fromDir(dir, { eosToken: "<|end_of_text|>" });
    expect(t.eosTokenId).toBe(128001);
    expect(t.bosTokenId).toBeNull();
    await expect(Tokenizer.fromDir(dir, { eosToken: "<|no_such_token|>" })).rejects.toThrow(
      /names "<\|no_such_token\|>", which is not in the vocabulary/,
    );
  });
});

describe("Qwen3 tokenizer", () => {
  it("encodes 'Hello world' to the ids of 'Hello' and 'Ġworld' in tokenizer.json", () => {
    const vocab = rawVocab(QWEN3_DIR);
    expect(qwen.encode("Hello world")).toEqual([vocab.get("Hello"), vocab.get("Ġworld")]);
    expect(qwen.encode("Hello world")).toEqual([9707, 1879]);
    expect(qwen.addBosToken).toBe(false);
    expect(qwen.bosTokenId).toBeNull();
  });

  it("takes EOS and a separate pad token from tokenizer_config.json", () => {
    expect(qwen.eosTokenId).toBe(151645); // <|im_end|>
    expect(qwen.padTokenId).toBe(151643); // <|endoftext|>
    expect(qwen.vocabSize).toBe(151669);
    const batch = qwen.encodeBatch(["Hello world", "Hi"], { maxLength: 16 });
    expect(Array.from(batch.inputIds)).toEqual([9707, 1879, 151645, ...qwen.encode("Hi"), 151645, 151643]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it("round-trips text through encode and decode", () => {
    for (const text of ["Hello world", "Dense retrieval via language modeling.", "数学 and ∑ symbols"]) {
      expect(qwen.decode(qwen.encode(text))).toBe(text);
    }
  });
});
