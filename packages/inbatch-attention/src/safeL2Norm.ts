import * as tf from "@tensorflow/tfjs";

/**
 * ‖x‖₂ over the last axis, keeping it: [..., D] → [..., 1].
 *
 * tf.norm's gradient is x/‖x‖, which is 0/0 = NaN at x = 0 — and padded value vectors are often
 * exactly zero. The norm is not differentiable there; we use the subgradient 0, so a zero vector
 * receives no gradient through its norm (its other paths are unaffected).
 */
export const safeL2Norm: (x: tf.Tensor) => tf.Tensor = tf.customGrad((x, save) => {
  const norm = tf.sqrt(tf.sum(tf.square(x as tf.Tensor), -1, true));
  (save as tf.GradSaveFunc)([x as tf.Tensor, norm]);
  return {
    value: norm,
    gradFunc: (dy, saved) => {
      const [xs, n] = saved as [tf.Tensor, tf.Tensor];
      const safeInverse = tf.where(tf.greater(n, 0), tf.reciprocal(n), tf.zerosLike(n)); // 1/0 = ∞ is never selected;
      return tf.mul(tf.mul(dy as tf.Tensor, safeInverse), xs);
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;
