import * as tf from "@tensorflow/tfjs";

/**
 * Gradient checking: central finite differences of the float64 references (test/support/
 * float64Ops.ts, via @revela/test-numerics) against the analytic gradients tfjs computes in float32.
 */

export {
  centralDifferences,
  dot,
  finiteDifferenceVjp,
  maxAbs,
  scaledMaxError,
} from "@revela/test-numerics";

type Values = ArrayLike<number>;

/**
 * The analytic gradients tfjs computes for Σ f(inputs) ⊙ cotangent, one Float32Array per input.
 * Everything is created and disposed inside tf.tidy.
 */
export function tfVjp(
  f: (...inputs: tf.Tensor[]) => tf.Tensor,
  inputs: readonly { values: Float32Array; shape: readonly number[] }[],
  cotangent: { values: Values; shape: readonly number[] },
): Float32Array[] {
  const grads = tf.tidy(() => {
    const dy = tf.tensor(Float32Array.from(cotangent.values), [...cotangent.shape]);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)));
    return g(inputs.map((x) => tf.tensor(x.values, [...x.shape])));
  });
  const values = grads.map((t) => t.dataSync() as Float32Array);
  tf.dispose(grads);
  return values;
}
