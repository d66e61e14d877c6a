import type { BooleanOption, ChoiceOption, NumberOption } from "@revela/kernels";

/**
 * The in-batch attention's tunables, each declared once: the ops take their defaults and checks
 * from here, and applications derive their config keys and flags from it.
 */

export const IMPLEMENTATIONS = ["dense", "streaming", "topk"] as const;
export type CrossAttentionImplementation = (typeof IMPLEMENTATIONS)[number];

export type SimilarityPrecision = "float32" | "bf16";
export const SIMILARITY_PRECISIONS: readonly SimilarityPrecision[] = ["float32", "bf16"];

/** documentWeights' options. */
export const DOCUMENT_WEIGHTS_OPTIONS: {
  temperature: NumberOption;
  similarityPrecision: ChoiceOption<SimilarityPrecision>;
} = {
  temperature: {
    kind: "number",
    // The paper's τ: W nearly one-hot.
    default: 1e-4,
    min: 0,
    minExclusive: true,
    doc: "τ of the document weights W = softmax(cos/τ) (paper 1e-4)",
  },
  similarityPrecision: {
    kind: "choice",
    choices: SIMILARITY_PRECISIONS,
    default: "float32",
    doc: "precision of cos(q, p) before /τ: bf16 (as the paper's bf16 run) or float32",
  },
};

/** crossDocumentAttention's options. */
export const CROSS_ATTENTION_OPTIONS: {
  implementation: ChoiceOption<CrossAttentionImplementation>;
  topK: NumberOption;
  valueNorm: BooleanOption;
} = {
  implementation: {
    kind: "choice",
    choices: IMPLEMENTATIONS,
    // Memory linear in B, and the fastest on CPU (see the README's benchmark).
    default: "streaming",
    doc: "in-batch attention implementation: dense (reference, memory ∝ B²), streaming or topk",
  },
  topK: {
    kind: "number",
    integer: true,
    min: 1,
    // With τ = 1e-4 a row's mass sits on one or two chunks.
    default: 2,
    doc: "topk only: chunks kept per row of W (at most B)",
  },
  valueNorm: {
    kind: "boolean",
    default: true,
    doc: "divide each cross-document term by P·‖V‖ + 1e-6 (paper: on; off for code)",
  },
};
