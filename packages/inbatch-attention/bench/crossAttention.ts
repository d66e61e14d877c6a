import { emit, timeMedian } from "@revela/bench";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import {
  type CrossAttentionImplementation,
  crossDocumentAttention,
  documentWeights,
  IMPLEMENTATIONS,
  WEIGHT_GRADIENTS,
  type WeightGradient,
} from "../src/index.js";

/**
 * Forward + backward of the cross-document term for one layer at H 8 / Hkv 4, L 128, D 32 (the
 * reference configuration's attention), gradients for q, k, v and W. One implementation and batch
 * size per process: `run.ts` starts one process per case so that a case that runs out of memory
 * cannot take the others with it.
 *
 * usage: node .bench/crossAttention.js --impl streaming --b 16 [--topk 2] [--tau 1e-4] [--weight-gradient support]
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const impl = arg("impl") as CrossAttentionImplementation;
if (!IMPLEMENTATIONS.includes(impl)) throw new Error(`bench: --impl must be one of ${IMPLEMENTATIONS.join(", ")}`);
const b = Number(arg("b"));
const topK = Number(arg("topk") ?? 2);
// τ of the retriever's softmax: 1e-4 (the paper) makes W one-hot to float32 precision; 1 gives no zeros.
const tau = Number(arg("tau") ?? 1e-4);
// `support`: dL/dW only where W ≠ 0, as the Revela loss asks for it (W comes from a softmax).
const weightGradient = (arg("weight-gradient") ?? "all") as WeightGradient;
if (!WEIGHT_GRADIENTS.includes(weightGradient))
  throw new Error(`bench: --weight-gradient must be one of ${WEIGHT_GRADIENTS.join(", ")}`);
const [h, hkv, l, d] = [8, 4, 128, 32];
const report = await initBackend({ backend: "wasm" });

// `dense` keeps several [B, B, H, L, L] float32 tensors alive for its backward pass (measured: peak
// ≈ 16 of them). Past wasm32's 4 GiB heap it cannot run; say so instead of thrashing for minutes.
const denseTensorBytes = b * b * h * l * l * 4;
if (impl === "dense" && 16 * denseTensorBytes > 4 * 2 ** 30) {
  emit({
    bench: "inbatch-attention/fwd+bwd",
    case: `B${b}`,
    impl,
    metric: "failed",
    value: 1,
    unit: "bool",
    params: {
      b,
      error: `needs ~${((16 * denseTensorBytes) / 2 ** 30).toFixed(1)} GiB ([B, B, H, L, L] = ${(denseTensorBytes / 2 ** 20).toFixed(0)} MiB, ~16 alive), more than the 4 GiB wasm heap`,
    },
  });
  process.exit(0);
}

const q = tf.randomNormal([b, h, l, d], 0, 1, "float32", 1);
const k = tf.randomNormal([b, hkv, l, d], 0, 1, "float32", 2);
const v = tf.randomNormal([b, hkv, l, d], 0, 1, "float32", 3);
// Chunk lengths from L/2 to L, as real batches have; W as the retriever makes it (τ = 1e-4).
const keyPaddingMask = tf.tensor2d(
  Array.from({ length: b }, (_, j) => Array.from({ length: l }, (_, t) => (t < l - ((j * 37) % (l / 2)) ? 1 : 0))),
);
const w = documentWeights(tf.randomNormal([b, 64], 0, 1, "float32", 4), tf.randomNormal([b, 64], 0, 1, "float32", 5), {
  temperature: tau,
});
const cotangent = tf.randomNormal([b, h, l, d], 0, 1, "float32", 6);
const options = { implementation: impl, keyPaddingMask, topK, weightGradient };

const step = () => {
  const grads = tf.tidy(() =>
    tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, w: tf.Tensor) =>
      tf.sum(tf.mul(crossDocumentAttention(q, k, v, w, options), cotangent)),
    )([q, k, v, w]),
  );
  for (const g of grads) g.dataSync();
  tf.dispose(grads);
};

const caseName =
  (impl === "topk" ? `B${b}-k${topK}` : tau === 1e-4 ? `B${b}` : `B${b}-tau${tau}`) +
  (weightGradient === "support" ? "-support" : "");
const params = { b, h, hkv, l, d, tau, weightGradient, ...(impl === "topk" ? { topK } : {}), threads: report.threads };
const before = tf.memory().numBytes;
// Peak: the engine's high-water mark of tensor bytes during one step (tf.profile's peakBytes),
// minus what was allocated before it (inputs). One profiled step, then timed steps without profiling.
const profile = await tf.profile(step);
const ms = await timeMedian(step, 1, impl === "dense" ? 3 : 5);
emit({
  bench: "inbatch-attention/fwd+bwd",
  case: caseName,
  impl,
  metric: "ms",
  value: Number(ms.toFixed(1)),
  unit: "ms",
  params,
});
emit({
  bench: "inbatch-attention/fwd+bwd",
  case: caseName,
  impl,
  metric: "peak_mib",
  value: Number(((profile.peakBytes - before) / 2 ** 20).toFixed(1)),
  unit: "MiB",
  params,
});
