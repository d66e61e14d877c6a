import * as tf from "@tensorflow/tfjs";
import { fillPairMultipliers } from "./dropoutMask.js";
import { type CrossAttentionProblem, MASKED_SCORE, VALUE_NORM_EPSILON } from "./problem.js";
import { safeL2Norm } from "./safeL2Norm.js";

/**
 * `dense`: the readable reference. Materialises every pair at once, as the official code does —
 * scores and probabilities of shape [B(i), B(j), H, L, L] — and lets tfjs differentiate it.
 * Memory O(B²·H·L²).
 *
 * q [B, H, L, D], k/v [B, Hkv, L, D], w [B, B] → [B, H, L, D].
 */
export function denseCrossAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  w: tf.Tensor,
  p: CrossAttentionProblem,
): tf.Tensor {
  const { b, h, rep, l, d } = p;
  // Grouped-query heads: query head h reads kv head ⌊h/rep⌋ (Hugging Face's repeat_kv).
  const repeatHeads = (x: tf.Tensor) => tf.reshape(repeatAxis(x, 2, rep), [b, h, l, -1]);
  const queries = repeatAxis(q, 1, b); // [B(i), B(j), H, L, D]
  const keys = repeatAxis(repeatHeads(k), 0, b); // [B(i), B(j), H, L, D]
  const values = repeatAxis(repeatHeads(v), 0, b);

  let scores = tf.div(tf.matMul(queries, keys, false, true), Math.sqrt(d)); // [B, B, H, L, L]
  if (p.keyMask !== null) {
    const bias = p.keyMask.map((x) => (x === 1 ? 0 : MASKED_SCORE));
    scores = tf.add(scores, tf.tensor(bias, [1, b, 1, 1, l])); // key j's padding, for every i
  }
  let probs = tf.softmax(scores); // over the L keys of chunk j
  if (p.dropout !== null) probs = tf.mul(probs, denseMultipliers(p));

  let term = tf.matMul(probs, values); // A_ij = P_ij V_j: [B, B, H, L, D]
  if (p.valueNorm) {
    const norms = repeatAxis(repeatHeads(safeL2Norm(v)), 0, b); // [B, B, H, L, 1]
    term = tf.div(term, tf.add(tf.matMul(probs, norms), VALUE_NORM_EPSILON));
  }
  return tf.sum(tf.mul(term, tf.reshape(w, [b, b, 1, 1, 1])), 1); // Σ_j W_ij A_ij
}

/** [B, B, H, L, L] dropout multipliers: pair (i, j) is block i·B + j. */
function denseMultipliers(p: CrossAttentionProblem): tf.Tensor {
  const { b, h, l } = p;
  const values = new Float32Array(b * b * h * l * l);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      fillPairMultipliers(values, p.dropout!, i, j, h, l, (head, row) => (((i * b + j) * h + head) * l + row) * l);
    }
  }
  return tf.tensor(values, [b, b, h, l, l]);
}

/**
 * x with a new axis of size n inserted at `axis`, repeating x along it. Done as a rank-3 broadcast:
 * tfjs 4.22 has no gradient for Tile (which broadcastTo runs) above rank 4.
 */
function repeatAxis(x: tf.Tensor, axis: number, n: number): tf.Tensor {
  const outer = x.shape.slice(0, axis).reduce((p, s) => p * s, 1);
  const inner = x.shape.slice(axis).reduce((p, s) => p * s, 1);
  const repeated = tf.broadcastTo(tf.reshape(x, [outer, 1, inner]), [outer, n, inner]);
  return tf.reshape(repeated, [...x.shape.slice(0, axis), n, ...x.shape.slice(axis)]);
}
