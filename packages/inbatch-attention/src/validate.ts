import { formatShape, requireDtype, requireTensor } from "@revela/kernels/checks";
import type * as tf from "@tensorflow/tfjs";

/** The in-batch attention checks beyond the kernels' shape checks: every message names the op and the argument. */

/** A live float32 tensor: the in-batch attention ops compute in float32 only. */
export function requireFloat32(op: string, name: string, value: unknown): tf.Tensor {
  const t = requireTensor(op, name, value);
  requireDtype(op, name, t, "float32");
  return t;
}

/**
 * Reads a 0/1 mask [B, L]. Anything else is refused rather than guessed at: a mask of logits or of
 * booleans-as-floats from another convention would otherwise silently change the output.
 */
export function readBinaryMask(op: string, name: string, mask: tf.Tensor): Float32Array {
  const values = mask.dataSync() as Float32Array;
  const cols = mask.shape[1] as number;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x !== 0 && x !== 1) {
      throw new Error(
        `${op}: ${name} must hold only 0 and 1 (1 = keep), got ${x} at [${Math.floor(i / cols)}, ${i % cols}] of ${formatShape(mask.shape)}`,
      );
    }
  }
  return values;
}

export function requireInteger(op: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${op}: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
