// Does the LM read other chunks? Trains the from-scratch LM (plain or in-batch same-document warm-up)
// and every N steps measures, on held-out documents, pass-2 loss with W on same-document siblings vs W
// on other documents' chunks, and pass-1 loss.

import { initBackend } from "@revela/kernels";
import {
  buildRevelaBatch,
  ConsecutiveBatcher,
  chunkDocument,
  disposeRevelaBatch,
  LrSchedule,
  otherDocumentWeights,
  revelaLmLoss,
  sameDocumentWeights,
} from "@revela/trainer";
import * as tf from "@tensorflow/tfjs";
import { arg, lmWarmupTrainer, scratchSetup, documentText as text } from "./scratchSetup.mjs";

const steps = +arg("steps", 300),
  every = +arg("every", 50),
  lr = +arg("lr", 1e-3),
  mode = arg("mode", "inbatch");
const bs = +arg("batch", 16),
  maxLm = +arg("max-lm", 128),
  valueNorm = arg("value-norm", "true") === "true";
const chunkWords = +arg("chunk-words", 120),
  warmupSteps = +arg("warmup", 20);
const backend = await initBackend({ threads: +arg("threads", 2) });
console.error(`backend ${backend.backend} ${backend.threads}`);
const { docs, seed, tok, lm, retrieverModel, retriever, tokenizers } = await scratchSetup({
  kv: 2,
  retrieverMaxLength: 157,
});
const held = new Set(docs.filter((_, i) => i % 20 === 0).map((d) => d.id));
const chunksOf = (ds) => ds.flatMap((d) => chunkDocument({ id: d.id, text: text(d) }, { maxWords: chunkWords }));
const trainChunks = chunksOf(docs.filter((d) => !held.has(d.id)));
const heldChunks = chunksOf(docs.filter((d) => held.has(d.id)));
const loss = { temperature: 0.02, implementation: "streaming", topK: 2, valueNorm, dualLoss: true };
const schedule = new LrSchedule({ kind: "constant", warmup: "linear", warmupSteps });
const trainer = lmWarmupTrainer({
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
});
const batcher = new ConsecutiveBatcher(trainChunks, { batchSize: bs, seed });
const evalBatcher = new ConsecutiveBatcher(heldChunks, { batchSize: bs, seed: 7 });
const evalBatches = Array.from({ length: +arg("eval-batches", 12) }, () => evalBatcher.next());
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
      const b = revelaLmLoss(lm, t, otherDocumentWeights(ids), { ...loss, dualLoss: false });
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
