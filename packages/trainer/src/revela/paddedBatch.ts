import * as tf from "@tensorflow/tfjs";

/** Right-padded [n, L] int32 ids and mask for token id lists (L = the longest; at least 1). */
export function paddedBatch(
  sequences: readonly (readonly number[])[],
  padTokenId: number,
): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  const l = Math.max(1, ...sequences.map((s) => s.length));
  const ids = new Int32Array(sequences.length * l).fill(padTokenId);
  const mask = new Int32Array(sequences.length * l);
  sequences.forEach((s, i) => {
    ids.set(s, i * l);
    mask.fill(1, i * l, i * l + s.length);
  });
  return {
    ids: tf.tensor2d(ids, [sequences.length, l], "int32"),
    mask: tf.tensor2d(mask, [sequences.length, l], "int32"),
  };
}
