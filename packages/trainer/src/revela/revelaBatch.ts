import * as tf from "@tensorflow/tfjs";
import { paddedBatch } from "./paddedBatch.js";

/** What batch building needs from the tokenizers and the retriever's text conventions. */
export interface BatchTokenizers {
  /** LM token ids of a chunk's text as the LM's tokenizer gives them: BOS first when it adds one, no EOS. */
  lmEncode(text: string): number[];
  lmEosTokenId: number;
  /** Pads the LM input; its value never matters (padding is masked and carries label −100). */
  lmPadTokenId: number;
  /** Retriever token ids for a text, prefix and EOS included; `queryView` keeps the first part (DenseEncoder.tokenize). */
  retrieverTokenize(text: string, kind: "query" | "passage", options?: { queryView?: boolean }): number[];
  retrieverPadTokenId: number;
}

/** The tensors of one Revela batch; all right-padded, int32. */
export interface RevelaBatchTensors {
  /** [B, L] the chunks as the LM reads them: BOS + text, cut to maxLmTokens, no EOS (official collator). */
  lmIds: tf.Tensor2D;
  lmMask: tf.Tensor2D;
  /** [B, Lq] "query: " + first part of each chunk. */
  queryIds: tf.Tensor2D;
  queryMask: tf.Tensor2D;
  /** [B, Lp] "passage: " + each chunk. */
  passageIds: tf.Tensor2D;
  passageMask: tf.Tensor2D;
  /** Real LM tokens (for tokens/s). */
  lmTokens: number;
}

/**
 * Tokenises a batch of chunk texts into the LM, query-view and passage-view tensors, by the
 * official collator's rules (`collator.py`, LLMEnhancedCollator): the LM reads BOS + text cut to
 * `maxLmTokens` with no EOS appended (EOS is the official pad id, so it is never a prediction target
 * nor a key/value for other chunks); the retriever's views are those of `retrieverTokenize`.
 */
export function buildRevelaBatch(
  texts: readonly string[],
  tokenizers: BatchTokenizers,
  maxLmTokens: number,
): RevelaBatchTensors {
  if (!Array.isArray(texts) || texts.length < 2)
    throw new Error(
      `buildRevelaBatch: need at least 2 chunk texts, got ${Array.isArray(texts) ? texts.length : typeof texts}`,
    );
  if (!Number.isInteger(maxLmTokens) || maxLmTokens < 2)
    throw new Error(`buildRevelaBatch: maxLmTokens must be an integer ≥ 2, got ${maxLmTokens}`);
  const lm = texts.map((t, i) => {
    const ids = tokenizers.lmEncode(t).slice(0, maxLmTokens);
    // A row of padding only would be a chunk with no keys for the others to read.
    if (ids.length === 0) throw new Error(`buildRevelaBatch: texts[${i}] gives no LM token (empty text, no BOS)`);
    return ids;
  });
  const q = texts.map((t) => tokenizers.retrieverTokenize(t, "query", { queryView: true }));
  const p = texts.map((t) => tokenizers.retrieverTokenize(t, "passage"));
  const lmT = paddedBatch(lm, tokenizers.lmPadTokenId);
  const qT = paddedBatch(q, tokenizers.retrieverPadTokenId);
  const pT = paddedBatch(p, tokenizers.retrieverPadTokenId);
  return {
    lmIds: lmT.ids,
    lmMask: lmT.mask,
    queryIds: qT.ids,
    queryMask: qT.mask,
    passageIds: pT.ids,
    passageMask: pT.mask,
    lmTokens: lm.reduce((s, x) => s + x.length, 0),
  };
}

export function disposeRevelaBatch(b: RevelaBatchTensors): void {
  tf.dispose([b.lmIds, b.lmMask, b.queryIds, b.queryMask, b.passageIds, b.passageMask]);
}
