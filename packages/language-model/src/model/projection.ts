import { tfSeed } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";

/** A LoRA adapter on one projection: y += scaling · dropout(x) Aᵀ Bᵀ (PEFT's layout and names). */
export interface LoraAdapter {
  /** [r, in] */
  a: tf.Variable;
  /** [out, r] */
  b: tf.Variable;
  scaling: number;
  dropout: number;
}

/**
 * x · Wᵀ (+ bias) (+ LoRA) with W in Hugging Face `nn.Linear` layout [out, in], so checkpoints load
 * without copies; @revela/kernels makes the transposed product as fast as a plain one.
 * x: [..., in] → [..., out].
 */
export function projection(
  x: tf.Tensor,
  weight: tf.Tensor,
  bias: tf.Tensor | undefined,
  lora: LoraAdapter | undefined,
  training: { dropoutSeed?: number } | undefined,
): tf.Tensor {
  const din = weight.shape[1] as number;
  const dout = weight.shape[0] as number;
  // Rows stay as they are when x is already [N, in]: a reshape would keep its output for backward.
  const rows = x.rank === 2 ? x : tf.reshape(x, [-1, din]);
  let y = tf.matMul(rows, weight, false, true);
  if (bias) y = tf.add(y, bias);
  if (lora) {
    const input =
      training && lora.dropout > 0
        ? tf.dropout(
            rows,
            lora.dropout,
            undefined,
            training.dropoutSeed === undefined ? undefined : tfSeed(training.dropoutSeed),
          )
        : rows;
    // Scaled on the r-wide side: a product's gradient keeps both factors, and [N, r] is far smaller
    // than the [N, out] it would keep after B.
    y = tf.add(y, tf.matMul(tf.mul(tf.matMul(input, lora.a, false, true), lora.scaling), lora.b, false, true));
  }
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), dout]);
}
