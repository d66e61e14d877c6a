import * as tf from "@tensorflow/tfjs";
import { reserveWasmHeap } from "./heapGuard.js";
import type { BackendWasmInternals, TensorInfoLike } from "./wasmInternals.js";
import { registerHeapView } from "./wasmInternals.js";

/**
 * BatchMatMul for the wasm backend that always reaches XNNPACK's fast path.
 *
 * The stock kernel calls XNNPACK only for a single, untransposed product and otherwise falls back
 * to a scalar triple loop (20–50× slower). tfjs's own matMul gradient uses the transposed forms, so
 * training hits the slow loop constantly. This kernel
 * - materialises a transposed operand with the (fast, O(n²)) Transpose kernel, then multiplies plainly;
 * - runs a product whose right operand has no batch (a weight matrix) as one 2-D product over all rows;
 * - runs other batched products as one XNNPACK call per batch item on zero-copy views of the heap.
 */

const F32_BYTES = 4;

type CBatchMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

const cFunctions = new WeakMap<object, CBatchMatMul>();

function cBatchMatMul(backend: BackendWasmInternals): CBatchMatMul {
  let fn = cFunctions.get(backend.wasm);
  if (!fn) {
    fn = backend.wasm.cwrap("BatchMatMul", null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number",
    ]) as CBatchMatMul;
    cFunctions.set(backend.wasm, fn);
  }
  return fn;
}

/**
 * Bytes XNNPACK allocates to pack a [k, n] right operand: n rounded up to its register tile, one
 * bias row, and slack for the operator itself. Generous: the point is to fail before the C++ side
 * does, because a failed packing only logs a warning there and leaves the output uninitialised.
 */
function packedWeightBytes(k: number, n: number): number {
  return (Math.ceil(n / 16) * 16 * (Math.ceil(k / 4) * 4 + 1) + 16384) * F32_BYTES;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** out[rows, n] = a[rows, k] · b[k, n] with XNNPACK; ids may be heap views. */
function plainProduct(
  backend: BackendWasmInternals,
  aId: number,
  rows: number,
  k: number,
  bId: number,
  n: number,
  outId: number,
): void {
  cBatchMatMul(backend)(aId, shapeBytes([1, rows, k]), 3, bId, shapeBytes([1, k, n]), 3, false, false, outId);
}

/**
 * [..., r, c] → [..., c, r] in a fresh heap buffer. Eight source rows at a time, so that each pass
 * over the columns writes eight consecutive floats of an output row: about 1 G floats/s, 3–4× the
 * 8×8-tiled loop it replaced and ~10× the wasm Transpose kernel.
 */
function transposeLastTwo(backend: BackendWasmInternals, x: TensorInfoLike): TensorInfoLike {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2] as number;
  const cols = x.shape[rank - 1] as number;
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
  const all = backend.typedArrayFromHeap(x) as Float32Array;
  const allOut = backend.typedArrayFromHeap(out) as Float32Array;
  const batch = product(x.shape.slice(0, -2));
  for (let t = 0; t < batch; t++) {
    const src = all.subarray(t * rows * cols, (t + 1) * rows * cols);
    const dst = allOut.subarray(t * rows * cols, (t + 1) * rows * cols);
    let i = 0;
    for (; i + 7 < rows; i += 8) {
      for (let j = 0; j < cols; j++) {
        const o = j * rows + i;
        const s = i * cols + j;
        dst[o] = src[s] as number;
        dst[o + 1] = src[s + cols] as number;
        dst[o + 2] = src[s + 2 * cols] as number;
        dst[o + 3] = src[s + 3 * cols] as number;
        dst[o + 4] = src[s + 4 * cols] as number;
        dst[o + 5] = src[s + 5 * cols] as number;
        dst[o + 6] = src[s + 6 * cols] as number;
        dst[o + 7] = src[s + 7 * cols] as number;
      }
    }
    for (; i < rows; i++) for (let j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j] as number;
  }
  return out;
}

function product(shape: number[]): number {
  return shape.reduce((p, s) => p * s, 1);
}

export function fastBatchMatMul(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfoLike {
  const backend = args.backend as BackendWasmInternals;
  const a = args.inputs.a as TensorInfoLike;
  const b = args.inputs.b as TensorInfoLike;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`matMul (wasm): only float32 is supported, got a: ${a.dtype}, b: ${b.dtype}`);
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = (transposeA ? a.shape[ra - 1] : a.shape[ra - 2]) as number;
  const kA = (transposeA ? a.shape[ra - 2] : a.shape[ra - 1]) as number;
  const kB = (transposeB ? b.shape[rb - 1] : b.shape[rb - 2]) as number;
  const n = (transposeB ? b.shape[rb - 2] : b.shape[rb - 1]) as number;
  if (kA !== kB) {
    throw new Error(
      `matMul: inner dimensions differ: a ${JSON.stringify(a.shape)} (transposeA=${transposeA}) has ${kA}, ` +
        `b ${JSON.stringify(b.shape)} (transposeB=${transposeB}) has ${kB}`,
    );
  }
  const k = kA;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outOuter = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batchA = product(outerA);
  const batchB = product(outerB);
  const batch = product(outOuter);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) {
    throw new Error(
      `matMul (wasm): batch dimensions ${JSON.stringify(outerA)} and ${JSON.stringify(outerB)} broadcast only ` +
        "when one side has a single batch or both have the same; reshape or tile the operands first",
    );
  }
  if (batch * m * n === 0) return backend.makeOutput([...outOuter, m, n], "float32");
  if (k === 0) {
    const out = backend.makeOutput([...outOuter, m, n], "float32");
    (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
    return out;
  }
  const label = `matMul ${JSON.stringify(a.shape)} x ${JSON.stringify(b.shape)}`;
  // XNNPACK multiplies plain operands only, and copies (packs) the right one, so transposed operands
  // are copied first. C = A·B can also be computed as Cᵀ = Bᵀ·Aᵀ and transposed back, which packs A
  // instead of B and transposes other operands: take whichever moves fewer floats. With both
  // operands transposed that saves a copy. The swap needs one product per batch item on both
  // sides, i.e. equal batches.
  const copiesDirect = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + k * n;
  const copiesSwapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + m * k + m * n;
  const temporaries: TensorInfoLike[] = [];
  const plain = (x: TensorInfoLike, transposed: boolean) => {
    if (!transposed) return x;
    const t = transposeLastTwo(backend, x);
    temporaries.push(t);
    return t;
  };
  try {
    if (batchA === batchB && copiesSwapped < copiesDirect) {
      // Cᵀ [batch, n, m] = op(B)ᵀ [n, k] · op(A)ᵀ [k, m]; op(B)ᵀ is b as stored when transposeB.
      const swapped = backend.makeOutput([...outOuter, n, m], "float32");
      temporaries.push(swapped);
      multiplyPlain(backend, plain(b, !transposeB), batchB, n, k, plain(a, !transposeA), batchA, m, swapped, label);
      return transposeLastTwo(backend, swapped);
    }
    const out = backend.makeOutput([...outOuter, m, n], "float32");
    try {
      multiplyPlain(backend, plain(a, transposeA), batchA, m, k, plain(b, transposeB), batchB, n, out, label);
    } catch (e) {
      // A failure (a full heap) would otherwise leave the output allocated with no tensor to free it.
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/**
 * out [batch, m, n] = a [batchA, m, k] · b [batchB, k, n], both plain (batchA or batchB may be 1 and
 * broadcast). A right operand without a batch is one tall product; otherwise one XNNPACK call per item.
 */
function multiplyPlain(
  backend: BackendWasmInternals,
  a: TensorInfoLike,
  batchA: number,
  m: number,
  k: number,
  b: TensorInfoLike,
  batchB: number,
  n: number,
  out: TensorInfoLike,
  label: string,
): void {
  reserveWasmHeap(
    backend,
    packedWeightBytes(k, n),
    `XNNPACK's packed copy of the right operand [${k}, ${n}] of ${label}`,
  );
  const aData = backend.dataIdMap.get(a.dataId);
  const bData = backend.dataIdMap.get(b.dataId);
  const outData = backend.dataIdMap.get(out.dataId);
  if (batchB === 1) {
    // A weight-like right operand: all left rows form one tall product. b goes in through a fresh
    // view id: the C++ side caches XNNPACK operators (with b's packed values and shape) per
    // tensor id, and a reshape keeps the id, so b's own id could hit a stale operator.
    const bView = registerHeapView(backend, bData.memoryOffset, k * n);
    try {
      plainProduct(backend, aData.id, batchA * m, k, bView.id, n, outData.id);
    } finally {
      bView.release();
    }
    return;
  }
  for (let i = 0; i < batchB; i++) {
    const aView = batchA === 1 ? null : registerHeapView(backend, aData.memoryOffset + i * m * k * F32_BYTES, m * k);
    const bView = registerHeapView(backend, bData.memoryOffset + i * k * n * F32_BYTES, k * n);
    const outView = registerHeapView(backend, outData.memoryOffset + i * m * n * F32_BYTES, m * n);
    try {
      plainProduct(backend, aView ? aView.id : aData.id, m, k, bView.id, n, outView.id);
    } finally {
      aView?.release();
      bView.release();
      outView.release();
    }
  }
}
