import { emit, timeMedian } from "@revela/bench";
import { causalSelfAttention, initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { crossDocumentAttention, documentWeights } from "../src/index.js";

/**
 * What REPLUG-style training would cost instead, at the attention layer: one causal pass over every
 * (document, document) pair concatenated, B² sequences of 2L tokens, against Revela's layer — local
 * causal attention over the B chunks plus the cross-document term (`streaming`). Both forward +
 * backward with gradients for q, k, v (and W), H 8 / Hkv 4, L 128, D 32.
 *
 * B² sequences do not fit the wasm heap at B = 32 (the scores alone are 1024·8·256² floats), so the
 * pairs are timed in batches of at most 32 sequences and the time scaled by B²/32: attention over a
 * batch costs the same per sequence however the batch is split (params.pairBatchMs shows it: B = 4
 * times 16 sequences, larger B 32). The ratio counts attention only; the projections and
 * MLP of each pair's pass would add B²·2L tokens' worth more to REPLUG and only B·L to Revela.
 *
 * usage: node .bench/replug.js --b 16
 */
const i = process.argv.indexOf("--b");
const b = Number(process.argv[i + 1]);
const [h, hkv, l, d] = [8, 4, 128, 32];
const report = await initBackend({ backend: "wasm" });

function attentionStep(batch: number, len: number): () => void {
  const q = tf.randomNormal([batch, h, len, d], 0, 1, "float32", 1);
  const k = tf.randomNormal([batch, hkv, len, d], 0, 1, "float32", 2);
  const v = tf.randomNormal([batch, hkv, len, d], 0, 1, "float32", 3);
  return () => {
    const grads = tf.tidy(() =>
      tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(causalSelfAttention(q, k, v)))([q, k, v]),
    );
    for (const g of grads) g.dataSync();
    tf.dispose(grads);
  };
}

// REPLUG: B² sequences of 2L, in batches of `m`.
const m = Math.min(b * b, 32);
const pairMs = await timeMedian(attentionStep(m, 2 * l), 1, 3);
const replugMs = (pairMs * (b * b)) / m;

// Revela: local attention over B chunks of L, plus the cross-document term.
const local = attentionStep(b, l);
const q = tf.randomNormal([b, h, l, d], 0, 1, "float32", 4);
const k = tf.randomNormal([b, hkv, l, d], 0, 1, "float32", 5);
const v = tf.randomNormal([b, hkv, l, d], 0, 1, "float32", 6);
const w = documentWeights(tf.randomNormal([b, 64], 0, 1, "float32", 7), tf.randomNormal([b, 64], 0, 1, "float32", 8));
const revelaMs = await timeMedian(
  () => {
    local();
    const grads = tf.tidy(() =>
      tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, w: tf.Tensor) => tf.sum(crossDocumentAttention(q, k, v, w)))([
        q,
        k,
        v,
        w,
      ]),
    );
    for (const g of grads) g.dataSync();
    tf.dispose(grads);
  },
  1,
  5,
);

const params = { b, h, hkv, l, d, threads: report.threads, pairsPerBatch: m, pairBatchMs: Number(pairMs.toFixed(1)) };
const bench = "inbatch-attention/replug-vs-revela";
const kase = `B${b}`;
emit({ bench, case: kase, impl: "replug", metric: "ms", value: Number(replugMs.toFixed(0)), unit: "ms", params });
emit({ bench, case: kase, impl: "revela", metric: "ms", value: Number(revelaMs.toFixed(1)), unit: "ms", params });
emit({
  bench,
  case: kase,
  impl: "replug",
  metric: "ratio",
  value: Number((replugMs / revelaMs).toFixed(1)),
  unit: "x",
  baseline: "revela",
  params,
});
