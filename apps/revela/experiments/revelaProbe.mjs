// Revela on a BEIR folder with knobs the app lacks: LM init, LM warm-up, frozen LM; retriever eval every N steps.

import { denseRetrieve, evaluateRun } from "@revela/eval";
import { initBackend } from "@revela/kernels";
import {
  Bm25NeighbourBatcher,
  ConsecutiveBatcher,
  ContrastiveTrainer,
  chunkDocument,
  LrSchedule,
  RevelaTrainer,
  readingGain,
} from "@revela/trainer";
import { arg, lmWarmupTrainer, readingProbe, scratchSetup, documentText as text } from "./scratchSetup.mjs";

const steps = +arg("steps", 200),
  every = +arg("every", 50);
const lmSteps = +arg("lm-steps", 0),
  lmMode = arg("lm-mode", "plain"),
  lmLr = +arg("lm-lr", 1e-3),
  // The LM's lr in the Revela phase (default: the warm-up's --lm-lr).
  revelaLmLr = +arg("revela-lm-lr", lmLr),
  rLr = +arg("retriever-lr", 1e-4);
const bs = +arg("batch", 16),
  maxLm = +arg("max-lm", 128),
  tau = +arg("tau", 0.02);
const freezeLm = arg("freeze-lm", "false") === "true";
const windowWords = +arg("window", 80),
  shiftWords = +arg("shift", Math.floor(windowWords / 2));
const batching = arg("batching", "consecutive");
// plain: next-token warm-up; inbatch: Revela's two passes with W on same-document chunks (retriever
// frozen); overlap: the same on pairs of overlapping windows (below).
if (!["plain", "inbatch", "overlap"].includes(lmMode))
  throw new Error(`revelaProbe --lm-mode: "plain", "inbatch" or "overlap", got ${JSON.stringify(lmMode)}`);
if (lmMode === "overlap" && bs % 2 !== 0)
  throw new Error(`revelaProbe --lm-mode overlap: --batch must be even (pairs of windows), got ${bs}`);
await initBackend({});
const { ds, docs, seed, tok, lm, retrieverModel, retriever, tokenizers, pinCopy } = await scratchSetup({
  kv: 4,
  retrieverMaxLength: 256,
  pooling: arg("pooling", "eos"),
});
const chunks = docs.flatMap((d) => chunkDocument({ id: d.id, text: text(d) }, { maxWords: 120 }));
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
  // Hubness: the share of all top-10 slots held by the 10 documents found most often (0.1 when every
  // query's list is disjoint from the others'; 1 when every query gets the same ten).
  const counts = new Map();
  let slots = 0;
  for (const hits of run.values())
    for (const h of hits.slice(0, 10)) {
      counts.set(h.docId, (counts.get(h.docId) ?? 0) + 1);
      slots++;
    }
  const top = [...counts.values()].sort((a, b) => b - a).slice(0, 10);
  console.log(
    JSON.stringify({
      step,
      ndcg10: +r.mean["NDCG@10"].toFixed(4),
      recall100: +r.mean["Recall@100"].toFixed(4),
      hub10: +(top.reduce((a, b) => a + b, 0) / slots).toFixed(3),
      ...extra,
      t: Math.round(performance.now() / 1000),
    }),
  );
}
const reading = readingProbe({ chunks, lm, tokenizers, maxLm, loss, batchSize: bs, Batcher: ConsecutiveBatcher });
/**
 * `--lm-mode overlap`: each batch holds B/2 documents, two windows of `window` words from each, the
 * second starting `shift` words after the first — so half of each window is a copy of its partner's
 * and the LM, with same-document W (one-hot on the partner), is paid for reading it. Raw text only.
 */
function overlapBatches(rngSeed = seed) {
  let state = rngSeed * 7919 + 1;
  const rand = () => {
    state = (state * 48271) % 2147483647;
    return state / 2147483647;
  };
  const words = docs.map((d) => text(d).split(/\s+/).filter(Boolean)).filter((w) => w.length >= windowWords);
  // ⌈B/2⌉ distinct documents a batch: fewer long documents than that would never fill one.
  const pairs = Math.ceil(bs / 2);
  if (words.length < pairs)
    throw new Error(
      `revelaProbe overlap pairs: ${words.length} documents have ≥ --window ${windowWords} words, a batch of ${bs} needs ${pairs}`,
    );
  return {
    next() {
      const picked = new Set();
      while (picked.size < pairs) picked.add(Math.floor(rand() * words.length));
      const out = [];
      for (const d of picked) {
        const w = words[d];
        const span = Math.min(w.length, windowWords + shiftWords);
        const start = Math.floor(rand() * (w.length - span + 1));
        const second = start + span - windowWords;
        out.push({ id: `${d}#0`, docId: String(d), index: 0, text: w.slice(start, start + windowWords).join(" ") });
        out.push({ id: `${d}#1`, docId: String(d), index: 1, text: w.slice(second, second + windowWords).join(" ") });
      }
      return { chunks: out, epoch: 0, index: 0 };
    },
  };
}
// The same gain on held-out overlap pairs (half of each window is a copy of its partner's): does the LM copy?
const overlapProbe = (() => {
  const b = overlapBatches(4242);
  return Array.from({ length: 4 }, () => b.next());
})();
const copying = () =>
  +(
    overlapProbe.reduce((g, batch) => g + readingGain(lm, [batch], tokenizers, maxLm, loss).gain, 0) /
    overlapProbe.length
  ).toFixed(4);
await evalRetriever(-1, { phase: "untrained", readingGain: reading(), copyingGain: copying() });
if (lmSteps > 0) {
  const batcher = lmMode === "overlap" ? overlapBatches() : new ConsecutiveBatcher(chunks, { batchSize: bs, seed });
  const warm = lmWarmupTrainer({
    mode: lmMode === "plain" ? "plain" : "inbatch",
    lm,
    tok,
    tokenizers,
    retriever,
    retrieverModel,
    seed,
    loss,
    maxLm,
    lr: lmLr,
    schedule: sched(20),
  });
  for (let s = 1; s <= lmSteps; s++) {
    const m = await warm.step(batcher.next());
    pinCopy();
    if (s % 10 === 0) console.error(`lm step ${s} loss ${m.loss.toFixed(3)} ${m.tokensPerSecond | 0} tok/s`);
    if (s % +arg("lm-every", 50) === 0)
      console.log(
        JSON.stringify({
          lmStep: s,
          loss: +m.loss.toFixed(3),
          readingGain: reading(),
          copyingGain: copying(),
          t: Math.round(performance.now() / 1000),
        }),
      );
  }
  warm.dispose();
}
// `--arm contrastive`: the app's contrastive baseline (Contriever-style: two random crops of a chunk are a positive pair,
// τ 0.05) in place of Revela, on the same retriever init, batches and lr — the comparison at equal steps.
const arm = arg("arm", "revela");
if (!["revela", "contrastive"].includes(arm))
  throw new Error(`revelaProbe --arm: "revela" or "contrastive", got ${JSON.stringify(arm)}`);
const revela =
  arm === "contrastive"
    ? new ContrastiveTrainer({
        retriever,
        retrieverModel,
        tokenize: (t) => retriever.tokenize(t, "passage"),
        padTokenId: tok.padTokenId,
        temperature: 0.05,
        cropRatio: [0.1, 0.5],
        lr: rLr,
        weightDecay: 0.01,
        maxGradNorm: 1,
        seed,
        schedule: sched(20),
      })
    : new RevelaTrainer({
        retriever,
        retrieverModel,
        lm,
        tokenizers,
        loss,
        seed,
        maxLmTokens: maxLm,
        retrieverLr: rLr,
        lmLr: revelaLmLr,
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
  pinCopy();
  acc.loss += m.loss;
  acc.ent += m.weightEntropy ?? 0;
  acc.same += m.sameDocumentMass ?? 0;
  acc.n++;
  if (s % every === 0) {
    await evalRetriever(s, {
      loss: +(acc.loss / acc.n).toFixed(3),
      entropy: +(acc.ent / acc.n).toFixed(3),
      sameDocMass: +(acc.same / acc.n).toFixed(3),
      readingGain: reading(),
      copyingGain: copying(),
    });
    acc = { loss: 0, ent: 0, same: 0, n: 0 };
  }
}
