import { canKeepInJsMemory, isInJsMemory, moveToJsMemory } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One named tensor of a checkpoint, off the device: its shape and float32 values (row-major). */
export interface TensorRecord {
  shape: number[];
  data: Float32Array;
}

/**
 * What a checkpoint holds: named float32 tensors plus a JSON state blob (optimizer step, cursors,
 * anything the caller adds). The arrays must not be mutated after export: a run may hold them as
 * its last good state.
 */
export interface CheckpointData {
  tensors: Record<string, TensorRecord>;
  state: JsonObject;
}

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Checks one tensor record; `where` names it in the message. */
export function requireTensorRecord(record: unknown, where: string): TensorRecord {
  if (record === null || typeof record !== "object")
    throw new Error(`${where} must be {shape, data}, got ${String(record)}`);
  const r = record as Partial<TensorRecord>;
  if (!Array.isArray(r.shape) || !r.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${where}.shape must be an array of non-negative integers, got ${JSON.stringify(r.shape)}`);
  }
  if (!(r.data instanceof Float32Array)) {
    const got = (r.data as unknown as { constructor?: { name?: string } } | undefined)?.constructor?.name;
    throw new Error(`${where}.data must be a Float32Array, got ${got ?? typeof r.data}`);
  }
  if (r.data.length !== shapeSize(r.shape)) {
    throw new Error(
      `${where}: shape [${r.shape.join(", ")}] needs ${shapeSize(r.shape)} values, data has ${r.data.length}`,
    );
  }
  return r as TensorRecord;
}

/**
 * Copies variables off the device as records named `${prefix}${key}` — the keys of `variables` are
 * the stable names a checkpoint uses (tfjs's own variable names come from a process-wide counter
 * and can differ between runs).
 */
export function variablesToRecords(variables: Record<string, tf.Variable>, prefix = ""): Record<string, TensorRecord> {
  const out: Record<string, TensorRecord> = {};
  for (const [key, v] of Object.entries(variables)) {
    if (!(v instanceof tf.Variable)) throw new Error(`variablesToRecords: ${key} must be a tf.Variable`);
    if (v.dtype !== "float32") throw new Error(`variablesToRecords: ${key} must be float32, got ${v.dtype}`);
    // slice(): a copy the backend will never reuse or mutate.
    out[`${prefix}${key}`] = { shape: [...v.shape], data: (v.dataSync() as Float32Array).slice() };
  }
  return out;
}

/**
 * Assigns records named `${prefix}${key}` to the variables; every variable must have its record.
 * A variable kept in JavaScript memory (tfjs's cpu backend while wasm computes) stays there.
 */
export function assignFromRecords(
  variables: Record<string, tf.Variable>,
  records: Record<string, TensorRecord>,
  prefix = "",
): void {
  for (const [key, v] of Object.entries(variables)) {
    const name = `${prefix}${key}`;
    const record = records[name];
    if (record === undefined) throw new Error(`assignFromRecords: no tensor named "${name}" in the checkpoint`);
    requireTensorRecord(record, `assignFromRecords: tensor "${name}"`);
    if (record.shape.length !== v.shape.length || record.shape.some((d, i) => d !== v.shape[i])) {
      throw new Error(
        `assignFromRecords: tensor "${name}" has shape [${record.shape.join(", ")}], the variable has [${v.shape.join(", ")}]`,
      );
    }
    // Each variable where it was: one kept in JavaScript memory (a LoRA adapter of a model with
    // offloaded layers) goes back right after its assign, so the heap never holds them all at once.
    const outside = canKeepInJsMemory() && isInJsMemory(v);
    tf.tidy(() => v.assign(tf.tensor(record.data, record.shape, "float32")));
    if (outside) moveToJsMemory(v);
  }
}
