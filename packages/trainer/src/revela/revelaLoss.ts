import {
  type CrossAttentionImplementation,
  crossDocumentAttention,
  documentWeights,
  type SimilarityPrecision,
  type WeightGradient,
} from "@revela/inbatch-attention";
import { tfSeed } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { RevelaBatchTensors } from "./revelaBatch.js";

export interface RevelaLossOptions {
  /** τ of W = softmax(cos/τ). Paper: 1e-4. */
  temperature: number;
  implementation: CrossAttentionImplementation;
  /** `topk` only: chunks kept per row. */
  topK: number;
  /** Divide each cross-document term by P·‖V‖ + 1e-6 (paper: on, off for code). */
  valueNorm: boolean;
  /** Add pass 1's next-token loss to pass 2's. */
  dualLoss: boolean;
  /** Seed of attention dropout in the in-batch term; undefined = no dropout. */
  dropout?: { rate: number; seed: number };
  /** cos(q, p) precision before /τ: `bf16` reproduces the official bf16 run's W (see documentWeights). Default float32. */
  similarityPrecision?: SimilarityPrecision;
}

/**
 * Training mode for one batch: LoRA dropout on (in both models, as PEFT in `model.train()`), and
 * this batch's dropout masks derived from `seed` — a different seed per batch, so that masks vary
 * from step to step yet a resumed run draws the same ones.
 */
export interface RevelaTrainingMode {
  seed: number;
}

/** Something that maps token ids to one differentiable embedding per row (the retriever). */
export interface Embedder {
  embed(inputIds: tf.Tensor, attentionMask: tf.Tensor, options?: { training?: { dropoutSeed?: number } }): tf.Tensor2D;
}

export interface RevelaLossResult {
  loss: tf.Scalar;
  /** [B, B] document weights of this batch (for metrics; kept out of the gradient tape's outputs). */
  weights: tf.Tensor2D;
  /** Pass-2 loss, and pass-1 loss when dualLoss. */
  pass2Loss: tf.Scalar;
  pass1Loss?: tf.Scalar;
}

/**
 * The Revela objective for one batch of B chunks (docs/DESIGN.md, "The algorithm, exactly"):
 * 1. The retriever embeds the query views and passage views → W = row-softmax(cos/τ), W_ii = 0.
 * 2. LM pass 1 over the chunks keeps every layer's keys (after RoPE) and values.
 * 3. LM pass 2 adds, in every attention layer, Σ_j W_ij · softmax(Q_i K_jᵀ/√d + pad_j) V_j.
 * 4. Loss = pass 2's mean next-token cross-entropy (+ pass 1's with dualLoss).
 * Gradients reach the retriever only through W, and the LM through both passes.
 */
export function revelaLoss(
  retriever: Embedder,
  lm: CausalLM,
  batch: RevelaBatchTensors,
  options: RevelaLossOptions,
  training?: RevelaTrainingMode,
): RevelaLossResult {
  const b = batch.lmIds.shape[0] as number;
  if (b < 2) throw new Error(`revelaLoss: a batch needs at least 2 chunks (a chunk never retrieves itself), got ${b}`);
  // Two backbone passes rather than one over both views: their lengths differ, and padding the
  // short query views to the passage length would waste FLOPs.
  const queryEmb = retriever.embed(batch.queryIds, batch.queryMask, dropoutFor(training, 1));
  const passageEmb = retriever.embed(batch.passageIds, batch.passageMask, dropoutFor(training, 2));
  const weights = documentWeights(queryEmb, passageEmb, {
    temperature: options.temperature,
    excludeDiagonal: true,
    ...(options.similarityPrecision ? { similarityPrecision: options.similarityPrecision } : {}),
  });
  // W comes from a softmax, whose backward multiplies dL/dW_ij by W_ij: the pairs with W_ij = 0 (all
  // but about B of B² at τ = 1e-4) need no gradient, and streaming then skips them.
  return { ...revelaLmLoss(lm, batch, weights, options, training, { weightGradient: "support" }), weights };
}

/** Each forward pass of a batch draws its own LoRA dropout masks (as four separate PyTorch forwards would). */
function dropoutFor(training: RevelaTrainingMode | undefined, pass: number): { training?: { dropoutSeed: number } } {
  return training ? { training: { dropoutSeed: tfSeed(training.seed, pass) } } : {};
}

/** What revelaLmLoss can do beyond the training objective. */
export interface RevelaLmLossExtras {
  /**
   * "support" computes dL/dW only where W ≠ 0 (see crossDocumentAttention): enough when W comes
   * from a softmax. Default "all".
   */
  weightGradient?: WeightGradient;
  /**
   * Per-token labels [B, L] int32 in place of the inputs (IGNORE_INDEX, −100, where a token is not
   * scored; shifted by one as the inputs are): the loss on chosen tokens only, e.g. those only the
   * in-batch term can predict. Both passes use them.
   */
  labels?: tf.Tensor2D;
}

/**
 * Steps 2–4 for given document weights W [B, B]: the LM's two passes and the loss. The retriever
 * enters only through W, which is why it learns only through W. A W of zeros gives pass 2 without
 * the in-batch term (every cross-document contribution is weighted 0).
 */
export function revelaLmLoss(
  lm: CausalLM,
  batch: RevelaBatchTensors,
  weights: tf.Tensor,
  options: RevelaLossOptions,
  training?: RevelaTrainingMode,
  extras: RevelaLmLossExtras = {},
): Omit<RevelaLossResult, "weights"> {
  const b = batch.lmIds.shape[0] as number;
  const { weightGradient = "all", labels } = extras;
  if (labels !== undefined) {
    const [lb, ll] = batch.lmIds.shape;
    if (
      !(labels instanceof tf.Tensor) ||
      labels.dtype !== "int32" ||
      labels.rank !== 2 ||
      labels.shape[0] !== lb ||
      labels.shape[1] !== ll
    )
      throw new Error(
        `revelaLmLoss: extras.labels must be an int32 tensor [${lb}, ${ll}] (the LM batch's shape), got ${labels instanceof tf.Tensor ? `${labels.dtype} [${labels.shape.join(", ")}]` : typeof labels}`,
      );
  }
  const scored = labels ? { labels } : {};
  const pass1Mode = dropoutFor(training, 3);
  // Without dualLoss, pass 1 is read only through its keys and values: stop there.
  const pass1: { keys?: tf.Tensor4D[]; values?: tf.Tensor4D[]; loss?: tf.Scalar } = options.dualLoss
    ? lm.forward(batch.lmIds, batch.lmMask, {
        returnKeyValues: true,
        returnLogits: false,
        computeLoss: true,
        ...scored,
        ...pass1Mode,
      })
    : lm.keyValues(batch.lmIds, batch.lmMask, pass1Mode);
  const keyMask = tf.cast(batch.lmMask, "float32"); // [B, L], the in-batch term wants float masks
  const keys = pass1.keys as tf.Tensor4D[];
  const values = pass1.values as tf.Tensor4D[];
  // The in-batch attention dropout varies with the batch too (a fixed seed would drop the same
  // probabilities at every step).
  const attentionSeed = (layer: number, seed: number) => (training ? tfSeed(seed, training.seed, layer) : seed + layer);
  const pass2 = lm.forward(batch.lmIds, batch.lmMask, {
    ...dropoutFor(training, 4),
    computeLoss: true,
    returnLogits: false,
    ...scored,
    attentionTerm: ({ layer, queries }) =>
      crossDocumentAttention(queries, keys[layer] as tf.Tensor4D, values[layer] as tf.Tensor4D, weights, {
        implementation: options.implementation,
        keyPaddingMask: keyMask,
        valueNorm: options.valueNorm,
        weightGradient,
        ...(options.implementation === "topk" ? { topK: Math.min(options.topK, b - 1) } : {}),
        ...(options.dropout
          ? { dropout: { rate: options.dropout.rate, seed: attentionSeed(layer, options.dropout.seed) } }
          : {}),
      }),
  });
  const pass2Loss = pass2.loss as tf.Scalar;
  const loss = options.dualLoss && pass1.loss ? (tf.add(pass2Loss, pass1.loss) as tf.Scalar) : pass2Loss;
  return { loss, pass2Loss, ...(pass1.loss ? { pass1Loss: pass1.loss } : {}) };
}
