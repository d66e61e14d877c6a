import * as tf from "@tensorflow/tfjs";

/** Shape validation shared by the ops: every message names the op, the tensor and the shapes. */

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

export function requireTensor(op: string, name: string, value: unknown): tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw new Error(`${op}: ${name} must be a tf.Tensor, got ${got}`);
  }
  if (value.isDisposed) throw new Error(`${op}: ${name} (shape ${fmt(value.shape)}) has been disposed`);
  return value;
}

export function requireRank(
  op: string,
  name: string,
  t: tf.Tensor,
  rank: number | readonly number[],
  layout?: string,
): void {
  const ranks = typeof rank === "number" ? [rank] : rank;
  if (!ranks.includes(t.rank)) {
    throw new Error(
      `${op}: ${name} must have rank ${ranks.join(" or ")}${layout ? ` ${layout}` : ""}, got shape ${fmt(t.shape)}`,
    );
  }
}

/** `expected` entries that are null match any size. */
export function requireShape(
  op: string,
  name: string,
  t: tf.Tensor,
  expected: readonly (number | null)[],
  context = "",
): void {
  const ok = t.rank === expected.length && expected.every((e, i) => e === null || e === t.shape[i]);
  if (!ok) {
    const want = `[${expected.map((e) => (e === null ? "*" : e)).join(", ")}]`;
    throw new Error(`${op}: ${name} must have shape ${want}${context ? ` ${context}` : ""}, got ${fmt(t.shape)}`);
  }
}

export function requireDtype(op: string, name: string, t: tf.Tensor, dtype: tf.DataType): void {
  if (t.dtype !== dtype) throw new Error(`${op}: ${name} must be ${dtype}, got ${t.dtype} (shape ${fmt(t.shape)})`);
}

export function requirePositiveNumber(op: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${op}: ${name} must be a positive finite number, got ${String(value)}`);
  }
  return value;
}

export { fmt as formatShape };
