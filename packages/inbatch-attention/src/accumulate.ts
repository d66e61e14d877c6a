import * as tf from "@tensorflow/tfjs";

/**
 * Running sums for the loops over pairs: acc + f(), with everything f made and the old acc released,
 * so a loop holds one step's intermediates at a time (that is the point of `streaming`).
 */
export function accumulate(acc: tf.Tensor | null, f: () => tf.Tensor): tf.Tensor {
  const next = tf.tidy(() => (acc === null ? f() : tf.add(acc, f())));
  acc?.dispose();
  return next;
}

/** acc + x, taking ownership of x (and of acc). */
export function addInto(acc: tf.Tensor | null, x: tf.Tensor): tf.Tensor {
  if (acc === null) return x;
  const sum = tf.add(acc, x);
  acc.dispose();
  x.dispose();
  return sum;
}
