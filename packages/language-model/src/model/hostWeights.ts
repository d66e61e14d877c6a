import * as tf from "@tensorflow/tfjs";
import { decodeHalfInto, encodeHalfInto } from "../safetensors/dtypes.js";

/**
 * A frozen weight kept in JavaScript memory instead of the backend (for wasm: outside its 4 GiB
 * heap), in the dtype its checkpoint stored it in — BF16/F16 as their 16-bit patterns, so the
 * published BF16 backbones cost 2 bytes a parameter here, F32 as float32. A decoder layer's weights
 * become float32 tensors only while that layer runs (see `CausalLM`'s `offloadLayers`).
 */
export interface HostWeight {
  readonly dtype: "F32" | "F16" | "BF16";
  readonly shape: readonly number[];
  /** Row-major values: float32, or the 16-bit patterns of `dtype`. */
  readonly data: Float32Array | Uint16Array;
}

/**
 * `values` (float32, row-major) as a host weight in `dtype`. Values read from an F16/BF16 file
 * round-trip exactly, so the tensors made from it equal those a resident model holds.
 */
export function toHostWeight(
  name: string,
  values: Float32Array,
  shape: readonly number[],
  dtype: "F32" | "F16" | "BF16",
): HostWeight {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(values instanceof Float32Array) || values.length !== size) {
    throw new Error(
      `toHostWeight: "${name}" must be a Float32Array of ${size} values for shape [${shape.join(", ")}], got ${values instanceof Float32Array ? values.length : typeof values}`,
    );
  }
  if (dtype === "F32") return { dtype, shape: [...shape], data: values };
  if (dtype !== "F16" && dtype !== "BF16") {
    throw new Error(`toHostWeight: "${name}" has dtype ${JSON.stringify(dtype)}; expected F32, F16 or BF16`);
  }
  const bits = new Uint16Array(size);
  encodeHalfInto(dtype, values, 0, bits);
  return { dtype, shape: [...shape], data: bits };
}

/**
 * A host weight from a checkpoint's stored 16-bit patterns (F16/BF16), kept as they are: no float32
 * copy of the weight is ever made, so loading needs 2 bytes a parameter.
 */
export function hostWeightFromBits(
  name: string,
  bits: Uint16Array,
  shape: readonly number[],
  dtype: "F16" | "BF16",
): HostWeight {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(bits instanceof Uint16Array) || bits.length !== size) {
    throw new Error(
      `hostWeightFromBits: "${name}" must be a Uint16Array of ${size} values for shape [${shape.join(", ")}], got ${bits instanceof Uint16Array ? bits.length : typeof bits}`,
    );
  }
  if (dtype !== "F16" && dtype !== "BF16") {
    throw new Error(`hostWeightFromBits: "${name}" has dtype ${JSON.stringify(dtype)}; expected F16 or BF16`);
  }
  return { dtype, shape: [...shape], data: bits };
}

/** The float32 values of a host weight (a new array for F16/BF16, the stored one for F32). */
export function hostWeightValues(weight: HostWeight): Float32Array {
  if (weight.dtype === "F32") return weight.data as Float32Array;
  const out = new Float32Array(weight.data.length);
  decodeHalfInto(weight.dtype, weight.data as Uint16Array, out);
  return out;
}

/** A float32 tensor of the host weight's values; the caller disposes it. */
export function materialiseHostWeight(weight: HostWeight): tf.Tensor {
  return tf.tensor(hostWeightValues(weight), [...weight.shape], "float32");
}

/** Bytes a host weight occupies in JavaScript memory. */
export function hostWeightBytes(weight: HostWeight): number {
  return weight.data.byteLength;
}

/*
 * Trained tensors kept in JavaScript memory between uses. LoRA adapters train, so unlike the frozen
 * layer weights above they must stay tf.Variables (the optimizer, the gradient tape, checkpoints
 * and saving all address them as such). tfjs lets a tensor's data live in any registered backend
 * and moves it into the active one when a kernel reads it (its DataStorage calls engine.moveData):
 * a variable whose data sits in the cpu backend — plain JavaScript typed arrays — costs the wasm
 * heap nothing until a kernel reads it, and moving it back out makes it cost nothing again. Moving
 * copies the float32 values as they are, so everything computed from it is bit for bit the same.
 */

interface EngineDataInternals {
  state: {
    tensorInfo: {
      get(dataId: object): { backend: tf.KernelBackend; shape: number[]; dtype: tf.DataType } | undefined;
    };
    numDataMovesStack: number[];
  };
  backend: tf.KernelBackend;
  backendName: string;
  findBackend(name: string): tf.KernelBackend | null;
  moveData(backend: tf.KernelBackend, dataId: object): void;
  readSync(dataId: object): unknown;
  shouldCheckForMemLeaks(): boolean;
}

interface MovableBackend {
  move(dataId: object, values: unknown, shape: number[], dtype: tf.DataType, refCount: number): void;
  refCount(dataId: object): number;
  disposeData(dataId: object, force?: boolean): boolean;
}

function engineData(): EngineDataInternals {
  return tf.engine() as unknown as EngineDataInternals;
}

/** Engines whose moveData keeps the source until the destination holds the values (see guardDataMoves). */
const guardedEngines = new WeakSet<object>();

/**
 * Makes tfjs's moves of tensor data between backends fail without losing the data. tfjs 4.22's
 * `engine.moveData` frees the source's copy and re-points the tensor to the destination before
 * the destination allocates; when the wasm heap is full, that allocation throws (@revela/kernels'
 * WasmHeapExhaustedError) and the values are gone — a LoRA adapter kept in JavaScript memory and
 * read by a kernel on a full heap would be destroyed, not just the step failed. The guarded move
 * allocates in the destination first and frees the source only after, so a failed move leaves the
 * tensor where and as it was. Idempotent; moveToJsMemory installs it before the first move out.
 */
export function guardDataMoves(): void {
  const engine = engineData();
  if (guardedEngines.has(engine)) return;
  engine.moveData = (backend: tf.KernelBackend, dataId: object): void => {
    const info = engine.state.tensorInfo.get(dataId);
    if (!info) throw new Error("guardDataMoves: moveData of a tensor the engine does not know (disposed?)");
    const source = info.backend as unknown as MovableBackend;
    const values = engine.readSync(dataId);
    const refCount = source.refCount(dataId);
    // Throws on a full heap with nothing changed: the source still holds the values.
    (backend as unknown as MovableBackend).move(dataId, values, info.shape, info.dtype, refCount);
    source.disposeData(dataId, true);
    info.backend = backend;
    // As tfjs's own moveData: a kernel's leak check subtracts the moves made during it.
    if (engine.shouldCheckForMemLeaks()) {
      const moves = engine.state.numDataMovesStack;
      if (moves.length > 0) moves[moves.length - 1] = (moves[moves.length - 1] as number) + 1;
    }
  };
  guardedEngines.add(engine);
}

/**
 * Whether tensors can be kept in JavaScript memory between uses: only the wasm backend has a heap
 * to spare (4 GiB at most), and its tensors move to and from tfjs's cpu backend.
 */
export function canKeepInJsMemory(): boolean {
  const engine = engineData();
  return engine.backendName === "wasm" && engine.findBackend("cpu") !== null;
}

/** Whether `t`'s data is in JavaScript memory (the cpu backend) while another backend is active. */
export function isInJsMemory(t: tf.Tensor): boolean {
  if (!(t instanceof tf.Tensor) || t.isDisposed) {
    throw new Error(
      `isInJsMemory: expected a live tf.Tensor, got ${t instanceof tf.Tensor ? "a disposed tensor" : typeof t}`,
    );
  }
  const engine = engineData();
  const info = engine.state.tensorInfo.get(t.dataId);
  return info !== undefined && info.backend !== engine.backend && info.backend === engine.findBackend("cpu");
}

/**
 * Moves `t`'s data out of the active backend's memory into JavaScript memory (the cpu backend),
 * where it stays until a kernel reads it; returns whether it moved (false where it already was, or
 * where the active backend is not wasm: see canKeepInJsMemory). The tensor stays the same object,
 * with the same values; every tensor sharing its data moves with it.
 */
export function moveToJsMemory(t: tf.Tensor): boolean {
  if (!(t instanceof tf.Tensor) || t.isDisposed) {
    throw new Error(
      `moveToJsMemory: expected a live tf.Tensor, got ${t instanceof tf.Tensor ? "a disposed tensor" : typeof t}`,
    );
  }
  if (!canKeepInJsMemory()) return false;
  const engine = engineData();
  const info = engine.state.tensorInfo.get(t.dataId);
  if (!info || info.backend !== engine.backend) return false;
  // Kernels bring the tensor back into the heap with engine.moveData: guarded, a full heap cannot destroy it.
  guardDataMoves();
  engine.moveData(engine.findBackend("cpu") as tf.KernelBackend, t.dataId);
  return true;
}
