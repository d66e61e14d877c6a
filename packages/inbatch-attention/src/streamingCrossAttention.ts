import type * as tf from "@tensorflow/tfjs";
import { keyMajorStreaming } from "./keyMajorStreaming.js";
import { pairMajorStreaming } from "./pairMajorStreaming.js";
import type { CrossAttentionProblem } from "./problem.js";
import { safeL2Norm } from "./safeL2Norm.js";

/** A key chunk read by this many query chunks or more is worth a step of its own (see below). */
const SHARED_KEY_CHUNK = 4;

/**
 * `streaming`: the cross-document term over the pairs (i, j) with W_ij ≠ 0 only, never
 * [B, B, H, L, L]: memory O(B·H·L²) through forward and backward, with its own recomputing gradient.
 *
 * Two layouts, both exact, chosen from W. wasm runs a batched product as one XNNPACK call per batch
 * item, and a call costs far more than its arithmetic at these sizes (more still when other
 * processes share the cores), so the layout with fewer, larger items wins:
 * - by pair (`pairMajorStreaming`): up to B pairs in one batched step, [P·Hkv] items of rep·L rows.
 *   For W with at most B non-zero pairs, none of its key chunks read by many (τ = 1e-4 makes W
 *   one-hot: B pairs): one step per layer.
 * - by key chunk (`keyMajorStreaming`): one step per key chunk j with the rows of every chunk that
 *   reads it stacked, Hkv items of n·rep·L rows. For W with many non-zeros, and for dL/dW on every
 *   pair (`allPairsWeightGradient`), whose forward-only pass over all B² pairs it runs as B steps.
 *
 * q [B, H, L, D], k/v [B, Hkv, L, D], w [B, B] → [B, H, L, D].
 */
export function streamingCrossAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  w: tf.Tensor,
  p: CrossAttentionProblem,
  allPairsWeightGradient: boolean,
): tf.Tensor {
  const norm = p.valueNorm ? safeL2Norm(v) : null;
  return byPair(w.dataSync(), p.b, allPairsWeightGradient)
    ? pairMajorStreaming(q, k, v, w, norm, p)
    : keyMajorStreaming(q, k, v, w, norm, p, allPairsWeightGradient);
}

function byPair(w: ArrayLike<number>, b: number, allPairsWeightGradient: boolean): boolean {
  if (allPairsWeightGradient) return false;
  let pairs = 0;
  for (let j = 0; j < b; j++) {
    let readers = 0;
    for (let i = 0; i < b; i++) if (w[i * b + j] !== 0) readers++;
    if (readers >= SHARED_KEY_CHUNK) return false;
    pairs += readers;
  }
  return pairs <= b;
}
