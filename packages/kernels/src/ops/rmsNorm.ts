import * as tf from "@tensorflow/tfjs";
import { requirePositiveNumber, requireShape, requireTensor } from "./checkShapes.js";

/**
 * RMSNorm as in LLaMA: y = x / sqrt(mean(x², last axis) + eps) · weight.
 * x: [..., D], weight: [D]. The statistic is computed in float32, as the tensors are.
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  const op = "rmsNorm";
  requireTensor(op, "x", x);
  requireTensor(op, "weight", weight);
  if (x.rank < 1) throw new Error(`${op}: x must have at least one dimension, got a scalar`);
  const d = x.shape[x.rank - 1] as number;
  requireShape(op, "weight", weight, [d], `to match the last dimension of x [${x.shape.join(", ")}]`);
  requirePositiveNumber(op, "eps", eps);
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}
