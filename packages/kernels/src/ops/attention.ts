import * as tf from "@tensorflow/tfjs";
import { requireRank, requireShape, requireTensor } from "./checkShapes.js";

/** Added to masked scores. Finite so that a row with every key masked stays finite (uniform). */
export const MASKED_SCORE = -1e9;

export interface AttentionOptions {
  /** [B, L]: 1 for real tokens, 0 for padding. Padded keys get no attention. */
  keyPaddingMask?: tf.Tensor;
  /** Score scale. Default 1/√D. */
  scale?: number;
  /**
   * Keep only q, k, v (and the padding bias) for backward and compute the probabilities again
   * there: heads·L floats per token less to hold ([B, H, L, L] per layer), for one more QKᵀ and
   * softmax in backward. Default false.
   */
  recomputeProbabilities?: boolean;
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
  const { keyPaddingMask, scale = 1 / Math.sqrt(d), recomputeProbabilities = false } = options;
  if (keyPaddingMask !== undefined) {
    requireTensor(op, "keyPaddingMask", keyPaddingMask);
    requireShape(op, "keyPaddingMask", keyPaddingMask, [b, l], `([B, L] for q [${q.shape.join(", ")}])`);
  }
  if (!(typeof scale === "number" && Number.isFinite(scale)))
    throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  const rep = h / hkv;
  const causal = causalBias(rep, l);
  // Own gradient, saving q, k, v and the probabilities: autodiff would also keep the raw and the
  // biased scores ([B, Hkv, rep·L, L] each) and the mask arithmetic.
  const probabilities = (qs: tf.Tensor, kIn: tf.Tensor, pad: tf.Tensor | null) => {
    let bias: tf.Tensor = tf.tensor(causal, [rep * l, l]);
    if (pad) bias = tf.add(bias, pad);
    return tf.softmax(tf.add(tf.mul(tf.matMul(qs, kIn, false, true), scale), bias), -1); // [B, Hkv, rep·L, L]
  };
  const attend = tf.customGrad(((qIn: tf.Tensor, kIn: tf.Tensor, vIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const qs = tf.reshape(qIn, [b, hkv, rep * l, d]);
    const pad =
      keyPaddingMask === undefined
        ? null
        : tf.reshape(tf.mul(tf.sub(1, tf.cast(keyPaddingMask, "float32")), MASKED_SCORE), [b, 1, 1, l]);
    const probs = probabilities(qs, kIn, pad);
    // The padding bias is saved rather than rebuilt: the caller's mask may be gone by backward.
    save(recomputeProbabilities ? [qs, kIn, vIn, ...(pad ? [pad] : [])] : [qs, kIn, vIn, probs]);
    return {
      value: tf.reshape(tf.matMul(probs, vIn), [b, h, l, d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [qSaved, kSaved, vSaved] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const p = recomputeProbabilities
          ? probabilities(qSaved, kSaved, (saved[3] as tf.Tensor | undefined) ?? null)
          : (saved[3] as tf.Tensor);
        const dOut = tf.reshape(dy, [b, hkv, rep * l, d]);
        const dv = tf.matMul(p, dOut, true, false); // Pᵀ·dO: [B, Hkv, L, D]
        const dp = tf.matMul(dOut, vSaved, false, true); // dO·Vᵀ: [B, Hkv, rep·L, L]
        // softmax backward: dS = P ⊙ (dP − Σⱼ P·dP), then the scale of the scores.
        const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(p, dp), -1, true))), scale);
        const dq = tf.reshape(tf.matMul(ds, kSaved), [b, h, l, d]);
        const dk = tf.matMul(ds, qSaved, true, false); // [B, Hkv, L, D]
        return [dq, dk, dv];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return attend(q, k, v) as tf.Tensor4D;
}
