import * as tf from "@tensorflow/tfjs";
import { requireDtype, requireTensor } from "./checkShapes.js";

/** Labels equal to this are ignored (PyTorch's and Hugging Face's convention). */
export const IGNORE_INDEX = -100;

/**
 * Mean token cross-entropy over labels ≠ −100, computed stably through log-sum-exp:
 * loss_i = logsumexp(logits_i) − logits_i[label_i].
 * logits: [..., V] float32; labels: [...] int32 with values in [0, V) or −100.
 * Returns a scalar; 0 (with zero gradient) when every label is ignored.
 * The gradient is written out ((softmax − onehot) / count) rather than left to autodiff, which
 * would keep several [N, V] intermediates alive.
 */
export function tokenCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const op = "tokenCrossEntropy";
  requireTensor(op, "logits", logits);
  requireTensor(op, "labels", labels);
  requireDtype(op, "labels", labels, "int32");
  requireDtype(op, "logits", logits, "float32");
  if (logits.rank < 1) throw new Error(`${op}: logits must have a vocabulary axis, got a scalar`);
  const v = logits.shape[logits.rank - 1] as number;
  const prefix = logits.shape.slice(0, -1);
  if (labels.rank !== prefix.length || labels.shape.some((s, i) => s !== prefix[i])) {
    throw new Error(
      `${op}: labels must have shape [${prefix.join(", ")}] (logits [${logits.shape.join(", ")}] without the vocabulary axis), got [${labels.shape.join(", ")}]`,
    );
  }
  const labelValues = labels.dataSync() as Int32Array;
  let count = 0;
  for (let i = 0; i < labelValues.length; i++) {
    const y = labelValues[i] as number;
    if (y === IGNORE_INDEX) continue;
    if (!(y >= 0 && y < v)) {
      throw new Error(`${op}: labels[${i}] (flat index) is ${y}; it must be in [0, ${v}) or ${IGNORE_INDEX} (ignored)`);
    }
    count++;
  }
  const n = labelValues.length;
  const lossFn = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const flat = tf.reshape(x, [n, v]);
    const weights = tf.tensor1d(
      Float32Array.from(labelValues, (y) => (y === IGNORE_INDEX ? 0 : 1 / count)),
      "float32",
    );
    const maxes = tf.max(flat, 1, true); // [N, 1]
    const shifted = tf.sub(flat, maxes);
    const lse = tf.log(tf.sum(tf.exp(shifted), 1)); // [N] (of the shifted logits)
    const flatIndex = new Int32Array(n);
    for (let i = 0; i < n; i++)
      flatIndex[i] = i * v + (labelValues[i] === IGNORE_INDEX ? 0 : (labelValues[i] as number));
    const picked = tf.gather(tf.reshape(shifted, [-1]), tf.tensor1d(flatIndex, "int32")); // [N]
    const value = tf.sum(tf.mul(tf.sub(lse, picked), weights));
    save([shifted, lse, weights]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sh, ls, w] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        // (softmax − onehot)·w·dy with at most three [N, V] tensors alive at once (each is
        // disposed as soon as the next exists): exp, then its scaled copy, then the one-hot part
        // subtracted at the N label positions only.
        const scale = tf.mul(w, dy); // [N]
        const logProbs = tf.sub(sh, tf.reshape(ls, [n, 1]));
        const probs = tf.exp(logProbs);
        logProbs.dispose();
        const scaled = tf.mul(probs, tf.reshape(scale, [n, 1]));
        probs.dispose();
        const labelsAt = tf.scatterND(tf.tensor2d(flatIndex, [n, 1], "int32"), scale, [n * v]);
        const grad = tf.sub(tf.reshape(scaled, [n * v]), labelsAt);
        tf.dispose([scaled, labelsAt]);
        return tf.reshape(grad, x.shape);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return lossFn(logits) as tf.Scalar;
}
