import { checkOption } from "@revela/kernels";
import { formatShape, requireRank, requireShape } from "@revela/kernels/checks";
import * as tf from "@tensorflow/tfjs";
import { roundTensorToBfloat16 } from "./bfloat16.js";
import { DOCUMENT_WEIGHTS_OPTIONS, type SimilarityPrecision } from "./options.js";
import { safeL2Norm } from "./safeL2Norm.js";
import { selectTopK } from "./selectTopK.js";
import { requireFloat32, requireInteger } from "./validate.js";

export interface DocumentWeightsOptions {
  /** Softmax temperature τ. Default 1e-4 (the paper), which makes W nearly one-hot. */
  temperature?: number;
  /** Give W_ii = 0: a chunk never retrieves itself. Default true. */
  excludeDiagonal?: boolean;
  /** Keep only the k largest weights of each row (renormalised to sum to 1). Default: all. */
  topK?: number;
  /**
   * Precision of cos(q, p) before dividing by τ. `float32` (default) keeps it. `bf16` rounds it to
   * bfloat16 as the official recipe's bf16 run does (spacing 2⁻⁸ on [0.5, 1)): at τ = 1e-4 neighbouring
   * values then differ by ≥ 39 in the logits, so each W row is one-hot or an exact tie, and the
   * retriever's gradient comes almost only from ties. The gradient passes the rounding unchanged.
   */
  similarityPrecision?: SimilarityPrecision;
}

const OP = "documentWeights";

/**
 * W [B, B] = row-softmax(cos(query_i, passage_j) / τ), the diagonal at −∞ (W_ii = 0).
 * queryEmb, passageEmb: [B, D] (need not be normalised). Differentiable with respect to both.
 * With topK, entries outside each row's k largest are −∞ before the softmax, which is exactly the
 * top-k weights renormalised to sum to 1.
 */
export function documentWeights(
  queryEmb: tf.Tensor,
  passageEmb: tf.Tensor,
  options: DocumentWeightsOptions = {},
): tf.Tensor2D {
  if (options === null || typeof options !== "object") throw new Error(`${OP}: options must be an object`);
  requireFloat32(OP, "queryEmb", queryEmb);
  requireFloat32(OP, "passageEmb", passageEmb);
  requireRank(OP, "queryEmb", queryEmb, 2, "[B, D]");
  requireShape(OP, "passageEmb", passageEmb, queryEmb.shape, `(must match queryEmb ${formatShape(queryEmb.shape)})`);
  const spec = DOCUMENT_WEIGHTS_OPTIONS;
  const temperature = checkOption(
    spec.temperature,
    options.temperature ?? spec.temperature.default,
    `${OP}: temperature`,
  );
  const { excludeDiagonal = true } = options;
  const b = queryEmb.shape[0] as number;
  const candidates = excludeDiagonal ? b - 1 : b;
  if (candidates < 1) {
    throw new Error(
      `${OP}: a batch of ${b} chunk (queryEmb ${formatShape(queryEmb.shape)}) leaves no chunk to retrieve once the diagonal is excluded`,
    );
  }
  const topK = options.topK === undefined ? candidates : requireInteger(OP, "topK", options.topK, 1, candidates);
  const precision = checkOption(
    spec.similarityPrecision,
    options.similarityPrecision ?? spec.similarityPrecision.default,
    `${OP}: similarityPrecision`,
  );

  return tf.tidy(() => {
    const unit = (x: tf.Tensor) => tf.div(x, tf.maximum(safeL2Norm(x), 1e-12)); // as torch F.normalize
    const cos = tf.matMul(unit(queryEmb), unit(passageEmb), false, true); // [B, B]
    let logits = tf.div(precision === "bf16" ? roundTensorToBfloat16(cos) : cos, temperature);
    const keep = new Uint8Array(b * b).fill(1);
    if (excludeDiagonal) for (let i = 0; i < b; i++) keep[i * b + i] = 0;
    if (topK < candidates) {
      // Chosen on the logits with the diagonal already out; the choice itself is not differentiated.
      const values = logits.dataSync().map((x, n) => (keep[n] ? x : Number.NEGATIVE_INFINITY));
      keep.fill(0);
      selectTopK(values, b, b, topK).forEach((row, i) => {
        for (const j of row) keep[i * b + j] = 1;
      });
    }
    if (keep.includes(0)) {
      // where(), not adding −∞: the masked logits then get exactly zero gradient, never ∞ − ∞.
      logits = tf.where(tf.tensor2d(keep, [b, b], "bool"), logits, tf.fill([b, b], Number.NEGATIVE_INFINITY));
    }
    return tf.softmax(logits) as tf.Tensor2D;
  });
}
