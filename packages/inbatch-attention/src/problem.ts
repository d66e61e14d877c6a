import type { DropoutOptions } from "./dropoutMask.js";

/** Added to the scores of padded keys: exp(−1e9 − max) is exactly 0 in float32. */
export const MASKED_SCORE = -1e9;

/** V-normalisation divides by P·‖V‖ + this, as the official code does. */
export const VALUE_NORM_EPSILON = 1e-6;

/** Sizes and checked options, shared by the three implementations. */
export interface CrossAttentionProblem {
  /** Chunks in the batch. */
  b: number;
  /** Query heads. */
  h: number;
  /** Key/value heads; query head h reads kv head ⌊h / rep⌋. */
  hkv: number;
  /** Query heads per kv head, H / Hkv. */
  rep: number;
  /** Tokens per chunk. */
  l: number;
  /** Head dimension. */
  d: number;
  /** [B·L] key padding, 1 = real token, or null when every key is real. */
  keyMask: Float32Array | null;
  valueNorm: boolean;
  /** Null when there is no dropout (inference, or rate 0). */
  dropout: DropoutOptions | null;
}

/** [L] additive bias of chunk j's keys (0 real, MASKED_SCORE padded), or null when all are real. */
export function keyBias(p: CrossAttentionProblem, j: number): Float32Array | null {
  if (p.keyMask === null) return null;
  const row = p.keyMask.subarray(j * p.l, (j + 1) * p.l);
  if (row.every((x) => x === 1)) return null;
  return row.map((x) => (x === 1 ? 0 : MASKED_SCORE));
}
