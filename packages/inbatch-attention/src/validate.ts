import * as tf from "@tensorflow/tfjs";

/** Input checks shared by the ops: every message names the op, the argument and the shapes involved. */

export const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

export function requireTensor(op: string, name: string, value: unknown): tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw new Error(`${op}: ${name} must be a tf.Tensor, got ${got}`);
  }
  if (value.isDisposed) throw new Error(`${op}: ${name} (shape ${formatShape(value.shape)}) has been disposed`);
  if (value.dtype !== "float32") {
    throw new Error(`${op}: ${name} must be float32, got ${value.dtype} (shape ${formatShape(value.shape)})`);
  }
  return value;
}

export function requireRank(op: string, name: string, t: tf.Tensor, rank: number, layout: string): void {
  if (t.rank !== rank) {
    throw new Error(`${op}: ${name} must have rank ${rank} ${layout}, got shape ${formatShape(t.shape)}`);
  }
}

/** `expected` entries that are null match any size; `context` says where the expected sizes come from. */
export function requireShape(
  op: string,
  name: string,
  t: tf.Tensor,
  expected: readonly (number | null)[],
  context: string,
): void {
  const ok = t.rank === expected.length && expected.every((e, i) => e === null || e === t.shape[i]);
  if (!ok) {
    const want = `[${expected.map((e) => (e === null ? "*" : e)).join(", ")}]`;
    throw new Error(`${op}: ${name} must have shape ${want} ${context}, got ${formatShape(t.shape)}`);
  }
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
