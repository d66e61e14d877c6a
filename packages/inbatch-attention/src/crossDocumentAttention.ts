import { checkOption } from "@revela/kernels";
import { formatShape, requireRank, requireShape } from "@revela/kernels/checks";
import * as tf from "@tensorflow/tfjs";
import { denseCrossAttention } from "./denseCrossAttention.js";
import { type DropoutOptions, validateDropout } from "./dropoutMask.js";
import { CROSS_ATTENTION_OPTIONS, type CrossAttentionImplementation } from "./options.js";
import type { CrossAttentionProblem } from "./problem.js";
import { streamingCrossAttention } from "./streamingCrossAttention.js";
import { supportGradient } from "./supportGradient.js";
import { topkCrossAttention } from "./topkCrossAttention.js";
import { readBinaryMask, requireFloat32, requireInteger } from "./validate.js";

export const WEIGHT_GRADIENTS = ["all", "support"] as const;
export type WeightGradient = (typeof WEIGHT_GRADIENTS)[number];

export interface CrossDocumentAttentionOptions {
  /**
   * `streaming` (default): loops over key chunks with its own recomputing gradient, memory O(B·H·L²).
   * `dense`: materialises [B, B, H, L, L], the readable reference, memory O(B²·H·L²).
   * `topk`: only the `topK` largest W_ij of each row, B·k pairs.
   */
  implementation?: CrossAttentionImplementation;
  /** [B, L] 1 = real token, 0 = padding. Padded keys get exactly zero probability. Default: all real. */
  keyPaddingMask?: tf.Tensor;
  /** [B, L] 1 = add the term at this query position, 0 = leave it out (e.g. the retriever's query half). */
  queryMask?: tf.Tensor;
  /** Divide A_ij by P_ij·‖V_j‖₂ + 1e-6. Default true (the paper turns it off for code). */
  valueNorm?: boolean;
  /** `topk` only: chunks kept per row, 1 ≤ topK ≤ B. Default 2. */
  topK?: number;
  /** Attention dropout on P_ij. Training only: pass it in training steps and leave it out otherwise. */
  dropout?: DropoutOptions;
  /**
   * Which entries of dL/dW to compute. `all` (default): every one. `support`: only where W_ij ≠ 0,
   * 0 elsewhere — exact for any W from documentWeights (a softmax, optionally top-k), whose backward
   * multiplies dL/dW_ij by W_ij, and it spares `streaming` a forward pass over all B² pairs in its
   * backward (with τ = 1e-4, W has about B non-zero pairs).
   */
  weightGradient?: WeightGradient;
}

const OP = "crossDocumentAttention";

/**
 * Revela's cross-document term for one attention layer: for each chunk i,
 * out_i = queryMask_i ⊙ Σ_j W_ij · A_ij, A_ij = softmax(Q_i K_jᵀ/√D + pad_j) V_j (optionally V-normalised).
 *
 * q [B, H, L, D] — pass-2 queries after RoPE; k, v [B, Hkv, L, D] — pass-1 keys (after RoPE) and values;
 * weights [B, B] — W from documentWeights. Returns [B, H, L, D], to be added to the layer's attention
 * output before the output projection. Differentiable with respect to q, k, v and weights.
 */
export function crossDocumentAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  weights: tf.Tensor,
  options: CrossDocumentAttentionOptions = {},
): tf.Tensor4D {
  if (options === null || typeof options !== "object") throw new Error(`${OP}: options must be an object`);
  requireFloat32(OP, "q", q);
  requireFloat32(OP, "k", k);
  requireFloat32(OP, "v", v);
  requireFloat32(OP, "weights", weights);
  requireRank(OP, "q", q, 4, "[B, H, L, D]");
  requireRank(OP, "k", k, 4, "[B, Hkv, L, D]");
  requireRank(OP, "weights", weights, 2, "[B, B]");
  const [b, h, l, d] = q.shape as [number, number, number, number];
  const hkv = k.shape[1] as number;
  const cache = `(the pass-1 cache is k ${formatShape(k.shape)}, q is ${formatShape(q.shape)})`;
  requireShape(OP, "k", k, [b, null, l, d], `([B, Hkv, L, D] for q ${formatShape(q.shape)})`);
  requireShape(OP, "v", v, [b, hkv, l, d], `(must match k ${formatShape(k.shape)})`);
  requireShape(OP, "weights", weights, [b, b], cache);
  if (hkv === 0 || h % hkv !== 0) {
    throw new Error(
      `${OP}: query heads (${h}, q ${formatShape(q.shape)}) must be a multiple of kv heads (${hkv}, k ${formatShape(k.shape)})`,
    );
  }
  const spec = CROSS_ATTENTION_OPTIONS;
  const implementation = checkOption(
    spec.implementation,
    options.implementation ?? spec.implementation.default,
    `${OP}: implementation`,
  );
  // The schema's range holds for every batch; a row of B chunks caps it at B.
  const topK =
    implementation === "topk"
      ? requireInteger(
          OP,
          "topK",
          checkOption(spec.topK, options.topK ?? Math.min(spec.topK.default, b), `${OP}: topK`),
          1,
          b,
        )
      : 0;
  let keyMask: Float32Array | null = null;
  if (options.keyPaddingMask !== undefined) {
    requireFloat32(OP, "keyPaddingMask", options.keyPaddingMask);
    requireShape(OP, "keyPaddingMask", options.keyPaddingMask, [b, l], `([B, L] for q ${formatShape(q.shape)})`);
    keyMask = readBinaryMask(OP, "keyPaddingMask", options.keyPaddingMask);
    if (keyMask.every((x) => x === 1)) keyMask = null;
  }
  let queryMask: Float32Array | null = null;
  if (options.queryMask !== undefined) {
    requireFloat32(OP, "queryMask", options.queryMask);
    requireShape(OP, "queryMask", options.queryMask, [b, l], `([B, L] for q ${formatShape(q.shape)})`);
    queryMask = readBinaryMask(OP, "queryMask", options.queryMask);
  }
  const weightGradient = options.weightGradient ?? "all";
  if (!WEIGHT_GRADIENTS.includes(weightGradient)) {
    throw new Error(
      `${OP}: weightGradient must be one of ${WEIGHT_GRADIENTS.join(", ")}, got ${JSON.stringify(weightGradient)}`,
    );
  }
  const dropout = options.dropout === undefined ? null : validateDropout(OP, options.dropout);
  const problem: CrossAttentionProblem = {
    b,
    h,
    hkv,
    rep: h / hkv,
    l,
    d,
    keyMask,
    valueNorm: checkOption(spec.valueNorm, options.valueNorm ?? spec.valueNorm.default, `${OP}: valueNorm`),
    dropout: dropout !== null && dropout.rate > 0 ? dropout : null,
  };

  return tf.tidy(() => {
    // A chunk with no real key has nothing to attend to: its pairs contribute 0 (and W_ij gets no
    // gradient) instead of an average over padding or 0/0.
    let w = weights;
    if (keyMask !== null) {
      const hasKeys = Float32Array.from({ length: b }, (_, j) =>
        keyMask.subarray(j * l, (j + 1) * l).includes(1) ? 1 : 0,
      );
      if (hasKeys.includes(0)) w = tf.mul(weights, tf.tensor2d(hasKeys, [1, b]));
    }
    // streaming skips the pairs with W_ij = 0 itself; the others compute them and drop them here.
    if (weightGradient === "support" && implementation !== "streaming") w = supportGradient(w);
    let out: tf.Tensor;
    if (implementation === "dense") out = denseCrossAttention(q, k, v, w, problem);
    else if (implementation === "streaming")
      out = streamingCrossAttention(q, k, v, w, problem, weightGradient === "all");
    else out = topkCrossAttention(q, k, v, w, problem, topK);
    if (queryMask !== null) out = maskQueries(out, queryMask, b, l);
    return out as tf.Tensor4D;
  });
}

/**
 * out ⊙ queryMask as an op that keeps nothing for backward: its gradient is dy ⊙ queryMask, and the
 * mask is rebuilt from its values. (tf.mul would keep `out`, a copy of the queries' size, per layer.)
 */
function maskQueries(out: tf.Tensor, queryMask: Float32Array, b: number, l: number): tf.Tensor {
  const apply = (x: tf.Tensor) => tf.tidy(() => tf.mul(x, tf.tensor4d(queryMask, [b, 1, l, 1])));
  const f = tf.customGrad(((x: tf.Tensor) => ({
    value: apply(x),
    gradFunc: (dy: tf.Tensor) => apply(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(out);
}
