import * as tf from "@tensorflow/tfjs";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The nearest bfloat16 value of a float32 (round half to even, as torch's .to(torch.bfloat16)); NaN and ±∞ kept. */
export function roundToBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0] as number;
  if ((bits & 0x7f800000) === 0x7f800000) return f32[0] as number; // ∞ or NaN: the low bits are not a fraction to round
  const lsb = (bits >>> 16) & 1;
  u32[0] = ((bits + 0x7fff + lsb) >>> 16) << 16;
  return f32[0] as number;
}

/**
 * x rounded to bfloat16 (values stay float32), with the gradient passed straight through, as
 * autograd does for a dtype cast. Used on the [B, B] similarities only: reading them back is cheap.
 */
export const roundTensorToBfloat16: (x: tf.Tensor) => tf.Tensor = tf.customGrad((x) => {
  const t = x as tf.Tensor;
  const values = Float32Array.from(t.dataSync() as Float32Array, roundToBfloat16);
  return { value: tf.tensor(values, t.shape, "float32"), gradFunc: (dy: tf.Tensor) => dy };
});
