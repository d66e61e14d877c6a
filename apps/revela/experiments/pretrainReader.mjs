// Pretrains the scratch LM with plain next-token prediction on the corpus's raw text for many steps,
// logging the reading gain as it goes and saving the LM (safetensors, F32) at every log: does a small
// LM trained long enough on a CPU start to read related chunks? `--lm-init <out>` resumes (weights only);
// `revela train --lm-init <out>` starts the app's LM from it (same model shape flags).
// `--mode inbatch` trains with Revela's two passes instead, W spread over each chunk's other chunks of
// the same document (retriever untouched, dual loss): the LM is paid for reading related chunks.

import { initBackend } from "@revela/kernels";
import { writeCheckpointTensors } from "@revela/language-model";
import { ConsecutiveBatcher, chunkDocument, LrSchedule } from "@revela/trainer";
import { arg, lmWarmupTrainer, readingProbe, scratchSetup, documentText as text } from "./scratchSetup.mjs";

const steps = +arg("steps", 1500),
  every = +arg("every", 250),
  lr = +arg("lr", 3e-3),
  bs = +arg("batch", 16),
  maxLm = +arg("max-lm", 128),
  out = arg("out", ""),
  mode = arg("mode", "plain");
if (!["plain", "inbatch"].includes(mode))
  throw new Error(`pretrainReader --mode: "plain" or "inbatch", got ${JSON.stringify(mode)}`);
if (!out) throw new Error("pretrainReader: --out <dir> is required (the LM is saved there at every log)");
await initBackend({});
const { docs, seed, tok, compaction, lm, tokenizers, retriever, retrieverModel } = await scratchSetup({
  kv: 4,
  retrieverMaxLength: 256,
});
const chunks = docs.flatMap((d) => chunkDocument({ id: d.id, text: text(d) }, { maxWords: 120 }));
const loss = { temperature: 0.02, implementation: "streaming", topK: 2, valueNorm: true, dualLoss: false };
const reading = readingProbe({ chunks, lm, tokenizers, maxLm, loss, batchSize: bs, Batcher: ConsecutiveBatcher });
const schedule = new LrSchedule({
  kind: "cosine",
  warmup: "linear",
  warmupSteps: Math.min(50, steps - 1),
  totalSteps: steps,
});
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
// The vocabulary goes with the weights: `revela train --lm-init <out>` tokenizes with it.
await compaction.save(out);
const batcher = new ConsecutiveBatcher(chunks, { batchSize: bs, seed: seed + 17 });
console.log(JSON.stringify({ step: 0, readingGain: reading(), chunks: chunks.length, vocab: tok.vocabSize }));
let acc = 0;
for (let s = 1; s <= steps; s++) {
  const m = await trainer.step(batcher.next());
  acc += m.loss;
  if (s % 10 === 0) console.error(`lm step ${s} loss ${m.loss.toFixed(3)} ${m.tokensPerSecond | 0} tok/s`);
  if (s % every === 0 || s === steps) {
    const tensors = new Map([...lm.params].map(([n, v]) => [n, { shape: v.shape, data: v.dataSync() }]));
    await writeCheckpointTensors(out, tensors, { metadata: { step: String(s), seed: String(seed) } });
    console.log(
      JSON.stringify({
        step: s,
        loss: +(acc / (s % every || every)).toFixed(3),
        readingGain: reading(),
        t: Math.round(performance.now() / 1000),
      }),
    );
    acc = 0;
  }
}
trainer.dispose();
