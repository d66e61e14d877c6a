import { crossDocumentAttention, documentWeights } from "@revela/inbatch-attention";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";

await initBackend(); // multi-threaded wasm here; tfjs-node where installed
const [B, H, KV, L, D] = [4, 8, 4, 16, 32];
const W = documentWeights(tf.randomNormal([B, 64]), tf.randomNormal([B, 64])); // [B, B], W_ii = 0
const q = tf.randomNormal([B, H, L, D]); // pass-2 queries (after RoPE)
const [k, v] = [tf.randomNormal([B, KV, L, D]), tf.randomNormal([B, KV, L, D])]; // pass-1 cache
const out = crossDocumentAttention(q, k, v, W, { keyPaddingMask: tf.ones([B, L]) }); // [B, H, L, D]
console.log(
  out.shape,
  W.arraySync()[0]?.map((x) => x.toFixed(3)),
);
