import { CausalLM } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import type { Batch } from "../../src/data/types.js";
import type { BatchTokenizers } from "../../src/revela/revelaBatch.js";

/**
 * A word-level tokenizer over a fixed vocabulary (test scaffolding: the Revela step only needs
 * token ids; real tokenizers are tested in @revela/language-model). Id 0 = pad, 1 = eos, 2 = unk.
 */
export class WordTokenizer {
  readonly padTokenId = 0;
  readonly eosTokenId = 1;
  private readonly ids = new Map<string, number>();
  constructor(words: string[]) {
    for (const w of words) if (!this.ids.has(w)) this.ids.set(w, this.ids.size + 3);
  }
  get vocabSize(): number {
    return this.ids.size + 3;
  }
  encode(text: string): number[] {
    return text
      .toLowerCase()
      .split(/[^a-z0-9:]+/)
      .filter(Boolean)
      .map((w) => this.ids.get(w) ?? 2);
  }
}

export const TEXTS = [
  "the cell divides when the protein signal arrives at the membrane",
  "protein signals at the membrane trigger division of the cell",
  "the river floods the valley every spring after the snow melts",
  "spring snow melt makes the valley river flood",
  "stars form when clouds of gas collapse under gravity",
  "gravity collapses gas clouds and new stars are born",
];

/** TEXTS as one batch: consecutive pairs are two chunks of the same document. */
export const TEXT_BATCH: Batch = {
  chunks: TEXTS.map((text, i) => ({
    id: `d${Math.floor(i / 2)}#${i % 2}`,
    docId: `d${Math.floor(i / 2)}`,
    index: i % 2,
    text,
  })),
  epoch: 0,
  index: 0,
};

export function tinyConfig(vocab: number) {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: vocab,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    initializer_range: 0.1,
  };
}

export function tinySetup(seed = 1) {
  const tokenizer = new WordTokenizer([...TEXTS.join(" ").split(" "), "query:", "passage:"]);
  const lm = CausalLM.create(tinyConfig(tokenizer.vocabSize), { seed });
  const retrieverModel = CausalLM.create(tinyConfig(tokenizer.vocabSize), { seed: seed + 1, backbone: true });
  const retriever = new DenseEncoder(retrieverModel, tokenizer, { maxLength: 32 });
  const tokenizers: BatchTokenizers = {
    lmEncode: (t) => tokenizer.encode(t),
    lmEosTokenId: tokenizer.eosTokenId,
    lmPadTokenId: tokenizer.padTokenId,
    retrieverTokenize: (t, kind, o) => retriever.tokenize(t, kind, o ?? {}),
    retrieverPadTokenId: tokenizer.padTokenId,
  };
  return { tokenizer, lm, retrieverModel, retriever, tokenizers };
}
