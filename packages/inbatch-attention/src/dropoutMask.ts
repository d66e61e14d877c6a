import { mix32 } from "@revela/kernels";
/**
 * Attention dropout for the cross-document term, deterministic per (query chunk i, key chunk j).
 *
 * The three implementations visit the pairs in different orders and layouts, and `streaming`
 * regenerates the mask in its backward pass. So the mask is not drawn from a stateful generator but
 * is a pure function of (seed, i, j, head, query position, key position): a counter-based hash.
 * Every implementation, forward and backward, therefore drops exactly the same probabilities.
 * Semantics are those of tf.dropout / torch dropout: keep with probability 1 − rate, scale kept
 * values by 1 / (1 − rate).
 */

export interface DropoutOptions {
  /** Probability of dropping an attention probability, in [0, 1). */
  rate: number;
  /** Any integer; the same seed gives the same mask on every backend and implementation. */
  seed: number;
}

/**
 * Writes the multipliers of pair (i, j) — for every head h and query row r, the L values over key
 * positions — into `out`, row (h, r) starting at `index(h, r)`. The layout is the caller's; the
 * values depend only on (seed, i, j, h, r, key position).
 */
export function fillPairMultipliers(
  out: Float32Array,
  dropout: DropoutOptions,
  i: number,
  j: number,
  heads: number,
  length: number,
  index: (h: number, row: number) => number,
): void {
  const keep = 1 - dropout.rate;
  const scale = 1 / keep;
  // Threshold on 32-bit hashes: P(hash ≥ threshold) = keep (to within 2⁻³²).
  const threshold = Math.min(2 ** 32 - 1, Math.round(dropout.rate * 2 ** 32));
  const pairKey = mix32(mix32(mix32(dropout.seed >>> 0) ^ i) + j * 0x9e3779b9);
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < length; r++) {
      const start = index(h, r);
      const rowKey = mix32(pairKey ^ Math.imul(h * length + r + 1, 0x85ebca6b));
      for (let c = 0; c < length; c++) {
        out[start + c] = mix32(rowKey + c * 0xc2b2ae35) >= threshold ? scale : 0;
      }
    }
  }
}

export function validateDropout(op: string, dropout: unknown): DropoutOptions {
  const d = dropout as Partial<DropoutOptions> | null;
  if (d === null || typeof d !== "object") throw new Error(`${op}: dropout must be { rate, seed }, got ${String(d)}`);
  if (typeof d.rate !== "number" || !(d.rate >= 0 && d.rate < 1)) {
    throw new Error(`${op}: dropout.rate must be a number in [0, 1), got ${String(d.rate)}`);
  }
  if (typeof d.seed !== "number" || !Number.isInteger(d.seed)) {
    throw new Error(`${op}: dropout.seed must be an integer, got ${String(d.seed)}`);
  }
  return { rate: d.rate, seed: d.seed };
}
