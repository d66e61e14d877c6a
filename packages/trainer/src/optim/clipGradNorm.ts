import * as tf from "@tensorflow/tfjs";

/**
 * Global gradient-norm clipping as PyTorch's `clip_grad_norm_`: the norm is the L2 norm of all
 * gradients together; when it exceeds `maxNorm` every gradient is scaled by maxNorm / (norm + 1e-6).
 * Like PyTorch it works in place: each scaled entry replaces the original in `grads`, and the
 * original is disposed. Returns the norm before clipping. A non-finite norm (NaN/Inf gradients)
 * leaves the gradients untouched and is returned, so the caller's loss guard can act on it.
 */
export function clipGradNorm(grads: tf.NamedTensorMap, maxNorm: number): number {
  const op = "clipGradNorm";
  if (grads === null || typeof grads !== "object") throw new Error(`${op}: grads must be a {name: tensor} map`);
  if (typeof maxNorm !== "number" || !Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new Error(`${op}: maxNorm must be a positive finite number, got ${String(maxNorm)}`);
  }
  const entries = Object.entries(grads);
  for (const [name, g] of entries) {
    if (!(g instanceof tf.Tensor) || g.isDisposed) throw new Error(`${op}: grads["${name}"] must be a live tf.Tensor`);
  }
  if (entries.length === 0) return 0;
  const total = tf.tidy(() => tf.sqrt(tf.addN(entries.map(([, g]) => tf.sum(tf.square(tf.cast(g, "float32")))))));
  const norm = (total.dataSync() as Float32Array)[0] as number;
  total.dispose();
  if (!Number.isFinite(norm) || norm <= maxNorm) return norm;
  const coef = maxNorm / (norm + 1e-6);
  for (const [name, g] of entries) {
    grads[name] = tf.tidy(() => tf.mul(g, coef));
    g.dispose();
  }
  return norm;
}
