import * as tf from "@tensorflow/tfjs";
import { VALUE_NORM_EPSILON } from "./problem.js";

/**
 * The cross-document attention of a batch of (query chunk, key chunk) pairs, forward and a
 * hand-derived backward, shared by `streaming` and `topk`. Leading dimensions "…" are a batch of
 * pairs (e.g. [Hkv] with every query chunk stacked into the rows, or [B, Hkv] with one pair per
 * query chunk); R is the number of query rows per batch entry.
 *
 * Forward, per batch entry (all products batched):
 *   S = Qs Kᵀ + bias                      [R, L]   (Qs already scaled by 1/√D)
 *   P = softmax(S)  (over keys);  Pd = P ⊙ M  (M: dropout multipliers, or none)
 *   N = Pd V  [R, D];  n = Pd ‖V‖  [R, 1];  c = 1 / (n + ε)
 *   A = N ⊙ c  (V-norm)   or   A = N   (no V-norm)
 *
 * Backward, given the output cotangent gy [R, D] and the per-row weight w [R, 1] of this pair
 * (the caller's term is Σ w·A):
 *   t  = Σ_D gy ⊙ A             — also dL/dw, summed over the pair's rows by the caller
 *   dN = w c gy;   dn = −w t c   (A = N/(n+ε) ⇒ ∂A/∂n = −A/(n+ε))
 *   dPd = dN Vᵀ + dn ‖V‖ᵀ;   dP = dPd ⊙ M
 *   dS = P ⊙ (dP − δ),  δ = Σ_L dP ⊙ P = Σ_L dPd ⊙ Pd = Σ_D dN ⊙ N + dn·n = w t ε c
 *        (no V-norm: δ = w t) — a per-row scalar, so no [R, L] reduction is needed
 *   dQs = dS K;   dKᵀ = Qsᵀ dS;   dVᵀ = dNᵀ Pd;   d‖V‖ᵀ = dnᵀ Pd
 * Transposed results (dKᵀ, dVᵀ) come from plain products with small transposed left operands:
 * on wasm a product with a transposed [R, L] operand costs several times a plain one.
 */
export interface PairInputs {
  /** […, R, D] queries times 1/√D. */
  qs: tf.Tensor;
  /** […, L, D] keys. */
  k: tf.Tensor;
  /** […, L, D] values. */
  v: tf.Tensor;
  /** […, L, 1] ‖V‖₂ per key (V-norm only). */
  norm: tf.Tensor | null;
  /** Broadcastable to […, R, L]: 0 for real keys, MASKED_SCORE for padded ones; null when none are padded. */
  bias: tf.Tensor | null;
  /** […, R, L] dropout multipliers, or null. */
  multiplier: tf.Tensor | null;
}

export interface PairForward {
  p: tf.Tensor;
  pd: tf.Tensor;
  /** […, R, D] the pair's term before weighting. */
  a: tf.Tensor;
  /** […, R, 1] 1/(n + ε) (V-norm only). */
  c: tf.Tensor | null;
}

export function pairForward(x: PairInputs): PairForward {
  let s = tf.matMul(x.qs, x.k, false, true);
  if (x.bias !== null) s = tf.add(s, x.bias);
  const p = tf.softmax(s);
  const pd = x.multiplier === null ? p : tf.mul(p, x.multiplier);
  const num = tf.matMul(pd, x.v);
  if (x.norm === null) return { p, pd, a: num, c: null };
  // n = Pd ‖V‖ as a product and a sum, not a matmul: wasm runs a batched matmul as one XNNPACK call
  // per batch item, which for a matrix-vector product costs far more than the arithmetic.
  const c = tf.reciprocal(tf.add(tf.sum(tf.mul(pd, asRow(x.norm)), -1, true), VALUE_NORM_EPSILON));
  return { p, pd, a: tf.mul(num, c), c };
}

export interface PairCotangents {
  /** […, R, D] cotangent of the caller's output at these rows. */
  gy: tf.Tensor;
  /** […, D, R] the same, transposed (computed once by the caller). */
  gyT: tf.Tensor;
  /** […, D, R] Qs transposed (computed once by the caller). */
  qsT: tf.Tensor;
  /** […, R, 1] the weight W_ij of each row's pair. */
  w: tf.Tensor;
}

export interface PairGradients {
  /** […, R, 1] Σ_D gy ⊙ A: the caller sums it over a pair's rows to get dL/dW_ij. */
  t: tf.Tensor;
  dqs: tf.Tensor;
  /** […, D, L] */
  dkT: tf.Tensor;
  /** […, D, L] */
  dvT: tf.Tensor;
  /** […, 1, L] (V-norm only) */
  dnormT: tf.Tensor | null;
}

/** Rows as a row vector: […, R, 1] → […, 1, R]; the same memory order, so no copy. */
function asRow(col: tf.Tensor): tf.Tensor {
  const shape = col.shape.slice();
  const r = shape[shape.length - 2] as number;
  shape.splice(shape.length - 2, 2, 1, r);
  return tf.reshape(col, shape);
}

/** Number of matrices in a […, R, L] batch. */
function batchItems(x: tf.Tensor): number {
  return x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
}

export function pairBackward(x: PairInputs, f: PairForward, g: PairCotangents): PairGradients {
  const t = tf.sum(tf.mul(g.gy, f.a), -1, true);
  const wt = tf.mul(g.w, t);
  const wc = f.c === null ? g.w : tf.mul(g.w, f.c);
  const dN = tf.mul(g.gy, wc);
  const dNT = tf.mul(g.gyT, asRow(wc));
  let dPd = tf.matMul(dN, x.v, false, true);
  let delta: tf.Tensor = wt;
  let dnormT: tf.Tensor | null = null;
  if (f.c !== null && x.norm !== null) {
    const dn = tf.neg(tf.mul(wt, f.c));
    dPd = tf.add(dPd, tf.mul(dn, asRow(x.norm)));
    delta = tf.mul(wt, tf.mul(f.c, VALUE_NORM_EPSILON));
    // d‖V‖ᵀ = dnᵀ Pd: as a product and a sum over rows when there are many small batch items (one
    // XNNPACK call each otherwise); a few large items multiply faster than they reduce over rows.
    dnormT = batchItems(f.pd) >= 16 ? tf.sum(tf.mul(f.pd, dn), -2, true) : tf.matMul(asRow(dn), f.pd);
  }
  const dP = x.multiplier === null ? dPd : tf.mul(dPd, x.multiplier);
  const dS = tf.mul(f.p, tf.sub(dP, delta));
  return {
    t,
    dqs: tf.matMul(dS, x.k),
    dkT: tf.matMul(g.qsT, dS),
    dvT: tf.matMul(dNT, f.pd),
    dnormT,
  };
}
