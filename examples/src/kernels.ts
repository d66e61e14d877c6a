import {
  applyRope,
  causalSelfAttention,
  formatBackendReport,
  initBackend,
  ropeTables,
  tokenCrossEntropy,
} from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";

const report = await initBackend(); // e.g. wasm, 2 threads
console.log(formatBackendReport(report));
const [B, H, KV, L, D] = [2, 8, 4, 16, 32];
const { cos, sin } = ropeTables({ headDim: D, seqLen: L, theta: 10000 });
const q = applyRope(tf.randomNormal([B, H, L, D]), cos, sin);
const k = applyRope(tf.randomNormal([B, KV, L, D]), cos, sin);
const out = causalSelfAttention(q, k, tf.randomNormal([B, KV, L, D]), { keyPaddingMask: tf.ones([B, L]) });
const loss = tokenCrossEntropy(tf.randomNormal([B, L, 100]), tf.fill([B, L], 7, "int32"));
console.log(out.shape, loss.dataSync()[0]);
