import * as tf from "@tensorflow/tfjs";
import type { BackendWasmInternals, WasmModule } from "./wasmInternals.js";

/**
 * tfjs-backend-wasm 4.22 is built with a 4 GiB maximum memory (`maximum: 4294967296/65536` in its
 * emscripten glue) and with malloc that returns 0 when the heap cannot grow. The backend uses that
 * 0 as the tensor's address: it copies the tensor's values over the start of the heap (the C++
 * side's static data and stack) and kernels then read and write there. What follows is not an
 * error but garbage — a token id of 1316838827 where a tensor of ids was written, or a call through
 * an overwritten function pointer ("table index is out of bounds"). Every allocation therefore goes
 * through a check that turns the 0 into this error.
 */
export const WASM_MAX_HEAP_BYTES = 4 * 2 ** 30;

export class WasmHeapExhaustedError extends Error {
  /** Bytes that could not be allocated. */
  readonly requestedBytes: number;
  /** The heap's size when the allocation failed (it grows up to WASM_MAX_HEAP_BYTES). */
  readonly heapBytes: number;
  /** Bytes held by live tensor buffers on the wasm backend at the time (each buffer once). */
  readonly tensorBytes: number;
  /** The tensor or buffer that was being allocated. */
  readonly what: string;

  constructor(what: string, requestedBytes: number, heapBytes: number, tensorBytes: number) {
    super(
      `wasm heap exhausted: cannot allocate ${formatBytes(requestedBytes)} for ${what}; the heap has grown to ` +
        `${formatBytes(heapBytes)} of its ${formatBytes(WASM_MAX_HEAP_BYTES)} maximum and tensor buffers hold ` +
        `${formatBytes(tensorBytes)}. Free tensors, or lower what sets this size (batch size, sequence length, ` +
        "vocabulary, LoRA rank, model size); @revela/language-model's estimateRunMemory computes a run's need beforehand",
    );
    this.name = "WasmHeapExhaustedError";
    this.requestedBytes = requestedBytes;
    this.heapBytes = heapBytes;
    this.tensorBytes = tensorBytes;
    this.what = what;
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}

type Malloc = (bytes: number) => number;
interface GuardedModule extends WasmModule {
  _malloc: Malloc;
  _free(pointer: number): void;
}

/** The module's own malloc and free, behind the guard's wrappers. */
const rawFunctions = new WeakMap<object, { malloc: Malloc; free: (pointer: number) => void }>();

/** A malloc failure inside `move`, before the tensor's shape is known to the message. */
class RawAllocationFailure extends Error {
  constructor(readonly bytes: number) {
    super(`wasm malloc(${bytes}) returned 0`);
  }
}

/*
 * Bytes allocated from JavaScript (every tensor's buffer) and still live, counted at malloc and
 * free: tf.memory().numBytes counts a buffer once per tensor handle, so clones that the tape keeps
 * would make it read several times the real figure.
 */
const allocations = new Map<number, number>();
let liveBytes = 0;
let peakBytes = 0;

function tensorBytes(): number {
  return liveBytes;
}

/** Bytes of the wasm heap held by tensor buffers now, and the most held since the last reset. */
export function wasmTensorBytes(): { live: number; peak: number } {
  return { live: liveBytes, peak: peakBytes };
}

/** Starts a new peak for wasmTensorBytes (e.g. before the step a benchmark measures). */
export function resetWasmTensorPeak(): void {
  peakBytes = liveBytes;
}

/**
 * Makes every allocation of this wasm backend fail loudly: `_malloc` throws instead of returning
 * 0, and the backend's `move` (where every tensor, input or kernel output, gets its memory) names
 * the tensor's dtype and shape in a WasmHeapExhaustedError. Idempotent.
 */
export function guardWasmHeap(backend: BackendWasmInternals): void {
  const wasm = backend.wasm as GuardedModule;
  if (rawFunctions.has(wasm)) return;
  // The emscripten glue binds `_malloc` lazily: its first call replaces Module._malloc with the
  // raw export, which would overwrite a wrapper installed before it. One call first binds it.
  wasm._free(wasm._malloc(8));
  const raw = wasm._malloc;
  const rawFree = wasm._free;
  wasm._malloc = (bytes: number) => {
    const pointer = raw(bytes);
    if (pointer === 0 && bytes > 0) throw new RawAllocationFailure(bytes);
    // Keyed unsigned: malloc returns addresses past 2 GiB as negative int32s, and the backend frees
    // them as `pointer >>> 0`.
    allocations.set(pointer >>> 0, bytes);
    liveBytes += bytes;
    if (liveBytes > peakBytes) peakBytes = liveBytes;
    return pointer;
  };
  wasm._free = (pointer: number) => {
    const bytes = allocations.get(pointer >>> 0);
    if (bytes !== undefined) {
      allocations.delete(pointer >>> 0);
      liveBytes -= bytes;
    }
    rawFree(pointer);
  };
  const internals = backend as unknown as {
    move(dataId: object, values: unknown, shape: number[], dtype: tf.DataType, refCount: number): void;
  };
  const move = internals.move.bind(backend);
  internals.move = (dataId, values, shape, dtype, refCount) => {
    try {
      move(dataId, values, shape, dtype, refCount);
    } catch (error) {
      if (error instanceof RawAllocationFailure) {
        throw new WasmHeapExhaustedError(
          `a ${dtype} tensor [${shape.join(", ")}]`,
          error.bytes,
          wasm.HEAPU8.length,
          tensorBytes(),
        );
      }
      throw error;
    }
  };
  rawFunctions.set(wasm, { malloc: raw, free: rawFree });
}

/**
 * Checks that `bytes` can be allocated right now (allocates and frees them), for memory that the
 * C++ side allocates itself and whose failure it does not report — XNNPACK's packed weights.
 */
export function reserveWasmHeap(backend: BackendWasmInternals, bytes: number, what: string): void {
  const wasm = backend.wasm as GuardedModule;
  // The raw functions: a probe is neither a tensor nor worth a failure of its own.
  const { malloc, free } = rawFunctions.get(wasm) ?? { malloc: wasm._malloc, free: wasm._free };
  let pointer = 0;
  try {
    pointer = malloc(bytes);
  } catch (error) {
    if (!(error instanceof RawAllocationFailure)) throw error;
  }
  if (pointer === 0 && bytes > 0) throw new WasmHeapExhaustedError(what, bytes, wasm.HEAPU8.length, tensorBytes());
  free(pointer);
}

/** The wasm heap's current size in bytes (it only grows), or null when the backend is not wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== "wasm") return null;
  return (tf.backend() as unknown as BackendWasmInternals).wasm.HEAPU8.length;
}

/**
 * Occupies the wasm heap (growing it to its maximum) so that no free block larger than about
 * `leaveFreeBytes` remains, and returns a function that frees it all again. For tests and memory
 * experiments of out-of-memory paths at small scale: the blocks are never written, so the process
 * does not touch the memory it reserves. Small C++ allocations still find room in what is left.
 */
export function occupyWasmHeap(leaveFreeBytes: number): () => void {
  if (tf.getBackend() !== "wasm")
    throw new Error(`occupyWasmHeap: the wasm backend is not active (${tf.getBackend()})`);
  const wasm = (tf.backend() as unknown as BackendWasmInternals).wasm as GuardedModule;
  // Ballast is not tensor memory: it bypasses the guard's accounting.
  const { malloc, free } = rawFunctions.get(wasm) ?? { malloc: wasm._malloc, free: wasm._free };
  const blocks: number[] = [];
  const tryMalloc = (bytes: number): number => {
    try {
      return malloc(bytes);
    } catch (error) {
      if (error instanceof RawAllocationFailure) return 0;
      throw error;
    }
  };
  // A block of the requested size, taken first and freed last, is the room left over.
  const slack = leaveFreeBytes > 0 ? tryMalloc(leaveFreeBytes) : 0;
  for (let size = 256 * 2 ** 20; size >= 4096; size /= 2) {
    for (let p = tryMalloc(size); p !== 0; p = tryMalloc(size)) blocks.push(p);
  }
  if (slack !== 0) free(slack);
  return () => {
    for (const p of blocks.splice(0)) free(p);
  };
}
