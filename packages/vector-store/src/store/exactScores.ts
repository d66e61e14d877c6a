import type { Metric } from "./metric.js";

/** float32's unit roundoff: pgvector accumulates in float32, so its scores are off by a few of these per dimension. */
const FLOAT32_ROUNDOFF = 2 ** -24;

/** A hit as the database ranked it, with pgvector's (float32-accumulated) score. */
export interface RankedRow {
  id: string;
  score: number;
  /** The stored vector's L2 norm (scales the inner product's error). */
  norm: number;
}

/**
 * How far pgvector's score can be from the float64 score computed here, per hit: a dot product of
 * d float32 terms summed in float32 is within (d + 2)·u·Σ|qᵢxᵢ| ≤ (d + 2)·u·‖q‖‖x‖ of the exact one,
 * in any summation order; cosine adds the two norms' errors (≤ (3d + 8)·u on a value in [-1, 1]).
 * Doubled, as a margin for the final rounding steps.
 */
export function scoreErrorBound(metric: Metric, dimensions: number, queryNorm: number, rowNorm: number): number {
  return metric === "cosine"
    ? 2 * (3 * dimensions + 8) * FLOAT32_ROUNDOFF
    : 2 * (dimensions + 4) * FLOAT32_ROUNDOFF * queryNorm * rowNorm;
}

/**
 * Positions of `rows` (sorted best first) whose order pgvector's float32 arithmetic cannot decide:
 * every hit whose score is within the two error bounds of a neighbour's. Only these need float64
 * scores; every other pair is ordered the same by both. `tailOpen` is true when the ambiguity runs
 * into the last fetched row — a row not fetched might belong before it.
 */
export function ambiguousPositions(
  rows: readonly RankedRow[],
  bounds: readonly number[],
): {
  positions: number[];
  tailOpen: boolean;
} {
  const ambiguous = new Set<number>();
  for (let i = 0; i + 1 < rows.length; i++) {
    const gap = (rows[i] as RankedRow).score - (rows[i + 1] as RankedRow).score;
    if (gap <= (bounds[i] as number) + (bounds[i + 1] as number)) {
      ambiguous.add(i);
      ambiguous.add(i + 1);
    }
  }
  return { positions: [...ambiguous].sort((a, b) => a - b), tailOpen: ambiguous.has(rows.length - 1) };
}

/**
 * The score in float64 exactly as @revela/eval's denseRetrieve computes it, so that a ranking through
 * the database and one in process agree bit for bit: inner product = Σ qᵢxᵢ over float32 values in
 * index order; cosine first scales each vector by 1/‖v‖ into float32, then takes that sum.
 */
export function exactScore(metric: Metric, query: Float32Array, row: Float32Array): number {
  const q = metric === "cosine" ? normalizedCopy(query) : query;
  const x = metric === "cosine" ? normalizedCopy(row) : row;
  let dot = 0;
  for (let d = 0; d < q.length; d++) dot += (q[d] as number) * (x[d] as number);
  return dot;
}

/** v / ‖v‖ rounded to float32 (a zero vector stays zero, so its cosine is 0, not NaN). */
export function normalizedCopy(v: Float32Array): Float32Array {
  let norm = 0;
  for (let d = 0; d < v.length; d++) norm += (v[d] as number) * (v[d] as number);
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
  const out = new Float32Array(v.length);
  for (let d = 0; d < v.length; d++) out[d] = (v[d] as number) * scale;
  return out;
}

/** L2 norm in float64. */
export function l2Norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let d = 0; d < v.length; d++) sum += (v[d] as number) * (v[d] as number);
  return Math.sqrt(sum);
}
