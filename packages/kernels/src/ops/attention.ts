import * as tf from "@tensorflow/tfjs";
import { requireRank, requireShape, requireTensor } from "./checkShapes.js";

/** Added to masked scores. Finite so that a row with every key masked stays finite (uniform). */
export const MASKED_SCORE = -1e9;

export interface AttentionOptions {
  /** [B, L]: 1 for real tokens, 0 for padding. Padded keys get no attention. */
  keyPaddingMask?: tf.Tensor;
  /** Score scale. Default 1/√D. */
  scale?: number;
}

const causalBiasCache = new Map<string, Float32Array>();

/** [rep·L, L] causal bias for `rep` query heads stacked along rows: 0 where key ≤ query, else MASKED_SCORE. */
function causalBias(rep: number, l: number): Float32Array {
  const key = `${rep}x${l}`;
  let bias = causalBiasCache.get(key);
  if (!bias) {
    bias = new Float32Array(rep * l * l);
    for (let r = 0; r < rep; r++) {
      for (let i = 0; i < l; i++) {
        const row = (r * l + i) * l;
        for (let j = i + 1; j < l; j++) bias[row + j] = MASKED_SCORE;
      }
    }
    if (causalBiasCache.size > 16) causalBiasCache.clear();
    causalBiasCache.set(key, bias);
  }
  return bias;
}

/**
 * Causal self-attention with grouped-query heads and an optional key-padding mask:
 * softmax(Q Kᵀ·scale + causal + pad) V.
 * q: [B, H, L, D]; k, v: [B, Hkv, L, D] with H a multiple of Hkv (query head h reads kv head
 * ⌊h / (H/Hkv)⌋, as `repeat_interleave` does in Hugging Face). Returns [B, H, L, D].
 *
 * The H/Hkv query heads that share a kv head are stacked along rows ([B, Hkv, rep·L, D]) so each
 * kv head is used by one product, without materialising repeated K/V.
 */
export function causalSelfAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: AttentionOptions = {},
): tf.Tensor4D {
  const op = "causalSelfAttention";
  requireTensor(op, "q", q);
  requireTensor(op, "k", k);
  requireTensor(op, "v", v);
  requireRank(op, "q", q, 4, "[B, H, L, D]");
  requireRank(op, "k", k, 4, "[B, Hkv, L, D]");
  const [b, h, l, d] = q.shape as [number, number, number, number];
  const hkv = k.shape[1] as number;
  requireShape(op, "k", k, [b, null, l, d], `([B, Hkv, L, D] for q [${q.shape.join(", ")}])`);
  requireShape(op, "v", v, [b, hkv, l, d], `(must match k [${k.shape.join(", ")}])`);
  if (hkv === 0 || h % hkv !== 0) {
    throw new Error(
      `${op}: query heads (${h}, q [${q.shape.join(", ")}]) must be a multiple of kv heads (${hkv}, k [${k.shape.join(", ")}])`,
    );
  }
  const { keyPaddingMask, scale = 1 / Math.sqrt(d) } = options;
  if (keyPaddingMask !== undefined) {
    requireTensor(op, "keyPaddingMask", keyPaddingMask);
    requireShape(op, "keyPaddingMask", keyPaddingMask, [b, l], `([B, L] for q [${q.shape.join(", ")}])`);
  }
  if (!(typeof scale === "number" && Number.isFinite(scale)))
    throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  const rep = h / hkv;
  return tf.tidy(() => {
    const qs = tf.reshape(q, [b, hkv, rep * l, d]);
    let scores = tf.mul(tf.matMul(qs, k, false, true), scale); // [B, Hkv, rep·L, L]
    let bias: tf.Tensor = tf.tensor(causalBias(rep, l), [rep * l, l]);
    if (keyPaddingMask !== undefined) {
      const pad = tf.mul(tf.sub(1, tf.cast(keyPaddingMask, "float32")), MASKED_SCORE); // [B, L]
      bias = tf.add(bias, tf.reshape(pad, [b, 1, 1, l]));
    }
    scores = tf.add(scores, bias);
    const probs = tf.softmax(scores, -1);
    return tf.reshape(tf.matMul(probs, v), [b, h, l, d]) as tf.Tensor4D;
  });
}
