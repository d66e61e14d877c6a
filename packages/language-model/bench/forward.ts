import { emit, median } from "@revela/bench";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { CausalLM } from "../src/index.js";

/**
 * Forward and forward+backward tokens/s and peak RSS of a decoder at the reference configuration
 * (vocab 8192, d 256, 4 layers, 8 heads / 4 KV heads, ffn 688, seq 128, batch 16), all weights
 * trained. Prints one JSON object per figure (the repository's benchmark schema).
 */
const REFERENCE = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 8192,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  max_position_embeddings: 128,
};
const B = 16;
const L = 128;

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 5);

const report = await initBackend();
const model = CausalLM.create(REFERENCE, { seed: 0 });
const ids = tf.randomUniform([B, L], 0, REFERENCE.vocab_size, "int32", 1);
const mask = tf.tensor2d(
  Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, t) => (t < L - 4 * (b % 8) ? 1 : 0))),
  undefined,
  "int32",
);

const forward = () =>
  tf.tidy(() => {
    const out = model.forward(ids, mask, { computeLoss: true, returnLogits: false });
    out.loss!.dataSync();
  });
const step = () => {
  const { value, grads } = tf.variableGrads(
    () => model.forward(ids, mask, { computeLoss: true, returnLogits: false }).loss!,
  );
  value.dataSync();
  for (const g of Object.values(grads)) g.dataSync();
  tf.dispose([value, grads]);
};

const params = { ...REFERENCE, batch: B, seq: L, backend: report.backend, threads: report.threads };
for (const [name, fn, runs] of [
  ["forward", forward, 5],
  ["forward+backward", step, 3],
] as const) {
  fn();
  const before = tf.memory().numTensors;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  emit({
    bench: "language-model/decoder",
    case: name,
    impl: "revela",
    metric: "tokens_per_s",
    value: Math.round((B * L * 1000) / ms),
    unit: "tokens/s",
    params: { ...params, medianMs: Number(ms.toFixed(1)), leakedTensors: tf.memory().numTensors - before },
  });
}
clearInterval(sampler);
emit({
  bench: "language-model/decoder",
  case: "peak-rss",
  impl: "revela",
  metric: "peak_rss",
  value: Math.round(peakRss / 2 ** 20),
  unit: "MiB",
  params,
});
