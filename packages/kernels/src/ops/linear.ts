import * as tf from "@tensorflow/tfjs";
import { requireRank, requireShape, requireTensor } from "./checkShapes.js";

/**
 * y = x · w (+ bias). x: [..., in]; w: [in, out]; bias: [out]. The leading axes are folded into
 * rows so the product is one 2-D matmul (the fast path on every backend).
 */
export function linear(x: tf.Tensor, w: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const op = "linear";
  requireTensor(op, "x", x);
  requireTensor(op, "w", w);
  if (x.rank < 1) throw new Error(`${op}: x must have at least one dimension, got a scalar`);
  requireRank(op, "w", w, 2, "[in, out]");
  const din = x.shape[x.rank - 1] as number;
  const dout = w.shape[1] as number;
  requireShape(op, "w", w, [din, dout], `([in, out] with in = last dimension of x [${x.shape.join(", ")}])`);
  if (bias !== undefined) {
    requireTensor(op, "bias", bias);
    requireShape(op, "bias", bias, [dout], `(out dimension of w [${w.shape.join(", ")}])`);
  }
  return tf.tidy(() => {
    let y = tf.matMul(tf.reshape(x, [-1, din]), w);
    if (bias !== undefined) y = tf.add(y, bias);
    return tf.reshape(y, [...x.shape.slice(0, -1), dout]);
  });
}
