/** Plain-TypeScript float64 references and helpers shared by the spec files. */

import { centralDifferences, dot } from "@revela/test-numerics";

export { dot, maxAbs, maxAbsDiff, seededValues, size } from "@revela/test-numerics";

export interface ReferenceProblem {
  b: number;
  h: number;
  hkv: number;
  l: number;
  d: number;
  /** [B, H, L, D] */
  q: ArrayLike<number>;
  /** [B, Hkv, L, D] */
  k: ArrayLike<number>;
  /** [B, Hkv, L, D] */
  v: ArrayLike<number>;
  /** [B, B] */
  w: ArrayLike<number>;
  /** [B, L], 1 = real key; absent = all real. */
  keyMask?: ArrayLike<number>;
  /** [B, L], 1 = add the term. */
  queryMask?: ArrayLike<number>;
  valueNorm: boolean;
  /** Dropout multipliers of pair (i, j), [H, L, L]; absent = none. */
  multiplier?: (i: number, j: number) => ArrayLike<number>;
}

/**
 * The cross-document term written as the issue states it, one pair (i, j), head, query and key at a
 * time, in float64: out_i = queryMask_i · Σ_j W_ij A_ij with A_ij = P_ij V_j [/ (P_ij ‖V_j‖ + 1e-6)],
 * P_ij = softmax over chunk j's real keys of Q_i K_jᵀ/√D; no real key ⇒ the pair contributes 0.
 */
export function referenceCrossAttention(x: ReferenceProblem): Float64Array {
  const { b, h, hkv, l, d } = x;
  const rep = h / hkv;
  const out = new Float64Array(b * h * l * d);
  const scale = 1 / Math.sqrt(d);
  const real = (j: number, c: number) => (x.keyMask ? x.keyMask[j * l + c] === 1 : true);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      const wij = x.w[i * b + j] as number;
      let anyReal = false;
      for (let c = 0; c < l; c++) anyReal ||= real(j, c);
      if (!anyReal) continue;
      const mult = x.multiplier?.(i, j);
      for (let hh = 0; hh < h; hh++) {
        const g = Math.floor(hh / rep);
        for (let r = 0; r < l; r++) {
          if (x.queryMask && x.queryMask[i * l + r] !== 1) continue;
          const qo = ((i * h + hh) * l + r) * d;
          const scores = new Float64Array(l);
          let max = Number.NEGATIVE_INFINITY;
          for (let c = 0; c < l; c++) {
            if (!real(j, c)) continue;
            const ko = ((j * hkv + g) * l + c) * d;
            let s = 0;
            for (let e = 0; e < d; e++) s += (x.q[qo + e] as number) * (x.k[ko + e] as number);
            scores[c] = s * scale;
            max = Math.max(max, scores[c] as number);
          }
          let z = 0;
          for (let c = 0; c < l; c++) if (real(j, c)) z += Math.exp((scores[c] as number) - max);
          const num = new Float64Array(d);
          let n = 0;
          for (let c = 0; c < l; c++) {
            if (!real(j, c)) continue;
            let p = Math.exp((scores[c] as number) - max) / z;
            if (mult) p *= mult[(hh * l + r) * l + c] as number;
            const vo = ((j * hkv + g) * l + c) * d;
            let norm = 0;
            for (let e = 0; e < d; e++) {
              const ve = x.v[vo + e] as number;
              num[e] = (num[e] as number) + p * ve;
              norm += ve * ve;
            }
            n += p * Math.sqrt(norm);
          }
          const oo = ((i * h + hh) * l + r) * d;
          for (let e = 0; e < d; e++) {
            const a = x.valueNorm ? (num[e] as number) / (n + 1e-6) : (num[e] as number);
            out[oo + e] = (out[oo + e] as number) + wij * a;
          }
        }
      }
    }
  }
  return out;
}

/** The gradient of `loss` at x by central differences in float64 (step 1e-6 by default). */
export function finiteDifferenceGradient(
  x: ArrayLike<number>,
  loss: (x: Float64Array) => number,
  step = 1e-6,
): Float64Array {
  return centralDifferences(loss, x, step);
}

/** W = row-softmax(cos(q_i, p_j)/τ), diagonal excluded, optionally only each row's top k, in float64. */
export function referenceDocumentWeights(
  qe: ArrayLike<number>,
  pe: ArrayLike<number>,
  b: number,
  d: number,
  temperature: number,
  excludeDiagonal = true,
  topK?: number,
): Float64Array {
  const unit = (x: ArrayLike<number>, i: number) => {
    let n = 0;
    for (let e = 0; e < d; e++) n += (x[i * d + e] as number) ** 2;
    return Array.from({ length: d }, (_, e) => (x[i * d + e] as number) / Math.max(Math.sqrt(n), 1e-12));
  };
  const w = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    const qi = unit(qe, i);
    const logits: number[] = [];
    for (let j = 0; j < b; j++) {
      const pj = unit(pe, j);
      logits.push(excludeDiagonal && i === j ? Number.NEGATIVE_INFINITY : dot(qi, pj) / temperature);
    }
    if (topK !== undefined) {
      const order = logits.map((_, j) => j).sort((a, c) => (logits[c] as number) - (logits[a] as number) || a - c);
      for (const j of order.slice(topK)) logits[j] = Number.NEGATIVE_INFINITY;
    }
    const max = Math.max(...logits);
    const z = logits.reduce((s, x) => s + Math.exp(x - max), 0);
    for (let j = 0; j < b; j++) w[i * b + j] = Math.exp((logits[j] as number) - max) / z;
  }
  return w;
}
