/*
 * Its own module so that the model (causalLM.ts) and the memory estimate (memoryPlan.ts) share the
 * figure without the estimate importing the model.
 */

/**
 * Vocabulary rows per slice of the LM head's loss (headCrossEntropy). Its backward holds about six
 * [N, slice] tensors at once (the slice's logits, their exponent, softmax − onehot and the products):
 * measured 465 MiB at B 16 × L 156 with 8,192 rows, the largest item of a smollm2-135m step's peak
 * once the recomputed layers' backward was made frugal (issue 15); 4,096 halves it for the same
 * arithmetic in twice as many slices.
 */
export const HEAD_SLICE_ROWS = 4096;

/**
 * The head's loss keeps its softmax from forward to backward (headCrossEntropy's keepProbabilities)
 * when the loss's rows × vocabulary stay within this many floats (128 MiB): backward then skips a
 * [N, d]·[d, V] product and an exponent over [N, V] (about 5 % of a reference Revela step). Larger
 * heads recompute, so no [N, V] tensor outlives a slice.
 */
export const HEAD_KEEP_PROBABILITIES_MAX_FLOATS = 2 ** 25;

/**
 * Whether the loss over a [B, L] batch keeps the head's softmax: decided by the batch's shape —
 * at most B·(L − 1) rows have a next token — not by how many are padding, so that the memory
 * estimate, which knows only shapes, makes the same choice.
 */
export function keepsHeadProbabilities(batch: number, seqLen: number, vocabSize: number): boolean {
  return batch * Math.max(seqLen - 1, 1) * vocabSize <= HEAD_KEEP_PROBABILITIES_MAX_FLOATS;
}
