import * as tf from "@tensorflow/tfjs";
import type { CrossAttentionProblem } from "./problem.js";

/*
 * The cores of `streaming` and `topk` work on query rows grouped by key/value head and scaled by
 * 1/√D: [B, Hkv, rep·L, D] (query head h reads kv head ⌊h/rep⌋, so this is a free reshape of
 * [B, H, L, D]), or [Hkv, B, rep·L, D] with `kvMajor`. They take q [B, H, L, D] itself as their
 * input and make these rows inside their forward and gradient functions: made outside, as taped ops,
 * the scaled copy, its regrouping and the output's reshape would each be kept until backward — three
 * more copies of every layer's queries through a training step (issue 15: 0.6 GiB of the
 * qwen2.5-0.5b shape at B 16).
 */

/** q [B, H, L, D] → q/√D as rows [B, Hkv, rep·L, D], or [Hkv, B, rep·L, D] with `kvMajor`. */
export function queryRows(q: tf.Tensor, p: CrossAttentionProblem, kvMajor: boolean): tf.Tensor {
  return tf.tidy(() => rowsFromHeads(tf.mul(q, 1 / Math.sqrt(p.d)), p, kvMajor));
}

/** x [B, H, L, D] → the rows layout ([B, Hkv, rep·L, D], or [Hkv, B, rep·L, D] with `kvMajor`). */
export function rowsFromHeads(x: tf.Tensor, p: CrossAttentionProblem, kvMajor: boolean): tf.Tensor {
  const { b, hkv, rep, l, d } = p;
  return tf.tidy(() => {
    const rows = tf.reshape(x, [b, hkv, rep * l, d]);
    return kvMajor ? tf.transpose(rows, [1, 0, 2, 3]) : rows;
  });
}

/** The inverse of `rowsFromHeads`, times `scale` (1/√D for the gradient of the queries). */
export function headsFromRows(x: tf.Tensor, p: CrossAttentionProblem, kvMajor: boolean, scale = 1): tf.Tensor {
  const { b, h, l, d } = p;
  return tf.tidy(() => {
    const rows = kvMajor ? tf.transpose(x, [1, 0, 2, 3]) : x;
    const heads = tf.reshape(rows, [b, h, l, d]);
    return scale === 1 ? heads : tf.mul(heads, scale);
  });
}
