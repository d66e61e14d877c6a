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
  const rows = x.size / d;
  // Own gradient: autodiff would keep x², the mean, its rsqrt and x·rsqrt for backward; this keeps
  // x and one statistic per row.
  const normalise = tf.customGrad(((xIn: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xIn), -1, true), eps)); // [..., 1]
    save([xIn, w, rstd]);
    return {
      value: tf.mul(tf.mul(xIn, rstd), w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, r] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        // y = x·r·w, r = (mean(x²) + eps)^(-1/2)  ⇒  dx = r·g − x·r³·mean(g·x), g = dy·w
        const g = tf.mul(dy, ws);
        const proj = tf.mean(tf.mul(g, xs), -1, true);
        const dx = tf.sub(tf.mul(g, r), tf.mul(xs, tf.mul(tf.pow(r, 3), proj)));
        const dw = tf.sum(tf.reshape(tf.mul(dy, tf.mul(xs, r)), [rows, d]), 0);
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return normalise(x, weight);
}
