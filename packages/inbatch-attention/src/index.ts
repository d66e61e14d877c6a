/**
 * @revela/inbatch-attention — Revela's retrieval-weighted cross-document (in-batch) attention.
 * This file is the package's whole public API.
 */

export { roundToBfloat16 } from "./bfloat16.js";
export {
  type CrossDocumentAttentionOptions,
  crossDocumentAttention,
  WEIGHT_GRADIENTS,
  type WeightGradient,
} from "./crossDocumentAttention.js";
export { type DocumentWeightsOptions, documentWeights } from "./documentWeights.js";
export { type DropoutOptions, fillPairMultipliers } from "./dropoutMask.js";
export {
  CROSS_ATTENTION_OPTIONS,
  type CrossAttentionImplementation,
  DOCUMENT_WEIGHTS_OPTIONS,
  IMPLEMENTATIONS,
  SIMILARITY_PRECISIONS,
  type SimilarityPrecision,
} from "./options.js";
export { MASKED_SCORE, VALUE_NORM_EPSILON } from "./problem.js";
