import * as tf from "@tensorflow/tfjs";
import { requireRank, requireTensor } from "./checkShapes.js";

// Both are pure data movement, so their gradients are each other's and need nothing saved.
// (tf.reshape records its input for backward, which would keep every projection output alive.)

const split = (b: number, l: number, h: number, d: number) => (t: tf.Tensor) =>
  tf.transpose(tf.reshape(t, [b, l, h, d]), [0, 2, 1, 3]);
const merge = (b: number, l: number, h: number, d: number) => (t: tf.Tensor) =>
  tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [b * l, h * d]);

/**
 * Rows of a projection to attention heads: x [B·L, H·D] (or [B, L, H·D]) → [B, H, L, D].
 * `batch` is B; L and D follow from x's shape and `heads`.
 */
export function splitHeads(x: tf.Tensor, batch: number, heads: number): tf.Tensor4D {
  const op = "splitHeads";
  requireTensor(op, "x", x);
  requireRank(op, "x", x, [2, 3], "[B·L, H·D] or [B, L, H·D]");
  const rows = x.rank === 2 ? (x.shape[0] as number) : (x.shape[0] as number) * (x.shape[1] as number);
  const width = x.shape[x.rank - 1] as number;
  if (!Number.isInteger(batch) || batch <= 0 || rows % batch !== 0 || (x.rank === 3 && x.shape[0] !== batch)) {
    throw new Error(`${op}: batch ${batch} does not divide the rows of x [${x.shape.join(", ")}]`);
  }
  if (!Number.isInteger(heads) || heads <= 0 || width % heads !== 0) {
    throw new Error(`${op}: heads ${heads} does not divide the last dimension of x [${x.shape.join(", ")}]`);
  }
  const [b, l, h, d] = [batch, rows / batch, heads, width / heads];
  const f = tf.customGrad(((t: tf.Tensor) => ({
    value: split(b, l, h, d)(t),
    gradFunc: (dy: tf.Tensor) => tf.reshape(merge(b, l, h, d)(dy), t.shape),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor4D;
}

/** The inverse of `splitHeads`: x [B, H, L, D] → [B·L, H·D]. */
export function mergeHeads(x: tf.Tensor): tf.Tensor2D {
  const op = "mergeHeads";
  requireTensor(op, "x", x);
  requireRank(op, "x", x, 4, "[B, H, L, D]");
  const [b, h, l, d] = x.shape as [number, number, number, number];
  const f = tf.customGrad(((t: tf.Tensor) => ({
    value: merge(b, l, h, d)(t),
    gradFunc: (dy: tf.Tensor) => split(b, l, h, d)(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor2D;
}
