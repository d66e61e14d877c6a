import * as tf from "@tensorflow/tfjs";
import { type ReferenceProblem, seededValues } from "./reference.js";

export interface CaseOptions {
  b?: number;
  h?: number;
  hkv?: number;
  l?: number;
  d?: number;
  /** Chunk j > 0 loses (j mod 3) trailing tokens; their value vectors are exactly zero. */
  padded?: boolean;
  /** Zero the term on each chunk's first two positions (a "first half" query). */
  queryMask?: boolean;
  valueNorm?: boolean;
  seed?: number;
  /**
   * W's pattern: `zero-diagonal` (default, as documentWeights makes it), `positive` (no zero at all),
   * `sparse` (one-hot rows, some chunks retrieved by nobody: exercises the exact-zero shortcuts),
   * `permutation` (one-hot rows, every chunk retrieved once, as τ = 1e-4 often makes W: streaming
   * then runs by pair, not by key chunk).
   */
  weights?: "zero-diagonal" | "positive" | "sparse" | "permutation";
}

/** One problem in two forms: plain arrays for the float64 reference, tensors for the op. */
export interface Case extends ReferenceProblem {
  tensors(): { q: tf.Tensor; k: tf.Tensor; v: tf.Tensor; w: tf.Tensor; keyMask?: tf.Tensor; queryMask?: tf.Tensor };
}

export function makeCase(o: CaseOptions = {}): Case {
  const { b = 3, h = 4, hkv = 2, l = 5, d = 4, padded = false, valueNorm = true, seed = 1 } = o;
  // Queries scaled up so the softmax is far from uniform.
  const q = seededValues([b, h, l, d], seed, 2.5);
  const k = seededValues([b, hkv, l, d], seed + 1, 1);
  const v = seededValues([b, hkv, l, d], seed + 2, 1);
  const w = seededValues([b, b], seed + 3, 0.5).map((x) => x + 0.5);
  const pattern = o.weights ?? "zero-diagonal";
  if (pattern === "zero-diagonal") for (let i = 0; i < b; i++) w[i * b + i] = 0;
  if (pattern === "sparse") {
    // Every row retrieves chunk 1, except chunk 1 itself, which retrieves chunk 0 (weight 0.7).
    w.fill(0);
    for (let i = 0; i < b; i++) w[i * b + (i === 1 ? 0 : 1)] = i === 1 ? 0.7 : 1;
  }
  if (pattern === "permutation") {
    // Chunk i retrieves chunk i + 1 (the last one chunk 0), with weights 1, 0.9, 0.8, …
    w.fill(0);
    for (let i = 0; i < b; i++) w[i * b + ((i + 1) % b)] = 1 - 0.1 * i;
  }
  let keyMask: Float32Array | undefined;
  if (padded) {
    keyMask = new Float32Array(b * l).fill(1);
    for (let j = 1; j < b; j++) {
      const pads = j % 3;
      for (let c = l - pads; c < l; c++) {
        keyMask[j * l + c] = 0;
        for (let g = 0; g < hkv; g++) v.fill(0, ((j * hkv + g) * l + c) * d, ((j * hkv + g) * l + c + 1) * d);
      }
    }
  }
  let queryMask: Float32Array | undefined;
  if (o.queryMask) {
    queryMask = new Float32Array(b * l).fill(1);
    for (let i = 0; i < b; i++) queryMask.fill(0, i * l, i * l + Math.min(2, l));
  }
  const c: Case = {
    b,
    h,
    hkv,
    l,
    d,
    q,
    k,
    v,
    w,
    valueNorm,
    tensors: () => ({
      q: tf.tensor4d(q, [b, h, l, d]),
      k: tf.tensor4d(k, [b, hkv, l, d]),
      v: tf.tensor4d(v, [b, hkv, l, d]),
      w: tf.tensor2d(w, [b, b]),
      ...(keyMask ? { keyMask: tf.tensor2d(keyMask, [b, l]) } : {}),
      ...(queryMask ? { queryMask: tf.tensor2d(queryMask, [b, l]) } : {}),
    }),
  };
  if (keyMask) c.keyMask = keyMask;
  if (queryMask) c.queryMask = queryMask;
  return c;
}
