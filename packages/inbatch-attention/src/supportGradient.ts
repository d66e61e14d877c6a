import * as tf from "@tensorflow/tfjs";

/**
 * W unchanged, with a gradient that keeps dL/dW_ij only where W_ij ≠ 0 (exact zeros elsewhere, even
 * where dL/dW_ij is not finite): what `weightGradient: "support"` promises from every implementation,
 * whether or not it skips the work.
 */
export function supportGradient(w: tf.Tensor): tf.Tensor {
  return tf.customGrad((...args: unknown[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      value: tf.clone(x),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], [saved]: tf.Tensor[]) =>
        tf.where(tf.notEqual(saved as tf.Tensor, 0), dy as tf.Tensor, tf.zerosLike(dy as tf.Tensor)),
    };
  })(w) as tf.Tensor;
}
