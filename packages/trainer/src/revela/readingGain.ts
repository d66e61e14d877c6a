import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import { type BatchTokenizers, buildRevelaBatch, disposeRevelaBatch } from "./revelaBatch.js";
import { type RevelaLossOptions, revelaLmLoss } from "./revelaLoss.js";
import { sameDocumentWeights } from "./revelaTrainer.js";
import { sameDocumentSiblings } from "./sameDocument.js";

/** What `readingGain` measured, averaged over its batches (nats per token). */
export interface ReadingGain {
  /** Pass-2 loss with W spread over each chunk's same-document siblings. */
  sameDocument: number;
  /** Pass-2 loss with W spread over the chunks of other documents (same rows as `sameDocument`). */
  otherDocuments: number;
  /** otherDocuments − sameDocument: > 0 when the LM predicts a chunk better from related chunks. */
  gain: number;
  /** Rows (chunks with a sibling in their batch) that the figures compare. */
  rows: number;
}

/**
 * Does the LM read related chunks? The gradient through W teaches the retriever only if the LM's
 * loss depends on *which* chunks it reads: dL/dW_ij is the loss change from reading chunk j. This
 * measures that dependence on free structure of raw text — chunks of one document are related,
 * chunks of others mostly not — as the pass-2 loss with W on same-document siblings against W on
 * other documents. A gain near 0 means Revela's retriever gradient is noise (measured: a
 * from-scratch LM after minutes of training on a CPU). Chunks without a sibling in their batch get a
 * zero row in both W and count in neither.
 */
export function readingGain(
  lm: CausalLM,
  batches: readonly Batch[],
  tokenizers: BatchTokenizers,
  maxLmTokens: number,
  loss: RevelaLossOptions,
): ReadingGain {
  if (!Array.isArray(batches) || batches.length === 0)
    throw new Error("readingGain: batches must be a non-empty array of batches");
  let same = 0;
  let other = 0;
  let rows = 0;
  let tokens = 0;
  for (let n = 0; n < batches.length; n++) {
    const batch = batches[n] as Batch;
    const docIds = batch.chunks.map((c) => c.docId);
    const withSibling = sameDocumentSiblings(docIds).filter(Boolean).length;
    if (withSibling === 0) continue;
    const tensors = buildRevelaBatch(
      batch.chunks.map((c) => c.text),
      tokenizers,
      maxLmTokens,
    );
    try {
      // Loss per batch is a mean over its real tokens; weight batches by tokens to average per token.
      const [s, o] = tf.tidy(() => {
        const options = { ...loss, dualLoss: false };
        const a = revelaLmLoss(lm, tensors, sameDocumentWeights(docIds), options).pass2Loss;
        const b = revelaLmLoss(lm, tensors, otherDocumentWeights(docIds), options).pass2Loss;
        return [a.dataSync()[0] as number, b.dataSync()[0] as number];
      });
      if (!Number.isFinite(s) || !Number.isFinite(o))
        throw new Error(`readingGain: batch ${n} gives a non-finite loss (same ${s}, other ${o})`);
      same += s * tensors.lmTokens;
      other += o * tensors.lmTokens;
      tokens += tensors.lmTokens;
      rows += withSibling;
    } finally {
      disposeRevelaBatch(tensors);
    }
  }
  if (rows === 0)
    throw new Error(
      `readingGain: none of the ${batches.length} batches holds two chunks of one document; use batches of consecutive chunks (ConsecutiveBatcher)`,
    );
  return { sameDocument: same / tokens, otherDocuments: other / tokens, gain: (other - same) / tokens, rows };
}

/**
 * W [B, B] spread evenly over the chunks of *other* documents, on the rows that have a same-document
 * sibling (the rows `sameDocumentWeights` fills); other rows are 0, so both W leave them alike.
 */
export function otherDocumentWeights(docIds: readonly string[]): tf.Tensor2D {
  const b = docIds.length;
  const w = new Float32Array(b * b);
  const hasSibling = sameDocumentSiblings(docIds);
  for (let i = 0; i < b; i++) {
    if (!hasSibling[i]) continue;
    const others: number[] = [];
    for (let j = 0; j < b; j++) if (docIds[j] !== docIds[i]) others.push(j);
    for (const j of others) w[i * b + j] = 1 / others.length;
  }
  return tf.tensor2d(w, [b, b]);
}
