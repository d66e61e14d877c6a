import * as tf from "@tensorflow/tfjs";
import { requireTensor } from "./checkShapes.js";

/**
 * a + b for two tensors of one shape (a residual connection). tf.add keeps both inputs for its
 * backward pass (to undo broadcasting); with equal shapes the gradient is dy for each, so nothing
 * needs keeping, and activations used only here are freed after the forward pass.
 */
export function residualAdd(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const op = "residualAdd";
  requireTensor(op, "a", a);
  requireTensor(op, "b", b);
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new Error(`${op}: a [${a.shape.join(", ")}] and b [${b.shape.join(", ")}] must have the same shape`);
  }
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`${op}: a and b must be float32, got ${a.dtype} and ${b.dtype}`);
  }
  const f = tf.customGrad(((x: tf.Tensor, y: tf.Tensor) => ({
    value: tf.add(x, y),
    gradFunc: (dy: tf.Tensor) => [dy, dy],
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(a, b);
}
