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
 * [..., r, c] → [..., c, r] in a fresh heap buffer. A tiled JS loop: on a 1024² matrix it takes
 * about 2 ms where the wasm Transpose kernel takes about 10 ms.
 */
function transposeLastTwo(backend: BackendWasmInternals, x: TensorInfoLike): TensorInfoLike {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2] as number;
  const cols = x.shape[rank - 1] as number;
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const batch = product(x.shape.slice(0, -2));
  const tile = 8;
  for (let t = 0; t < batch; t++) {
    const base = t * rows * cols;
    for (let i0 = 0; i0 < rows; i0 += tile) {
      const i1 = Math.min(i0 + tile, rows);
      for (let j0 = 0; j0 < cols; j0 += tile) {
        const j1 = Math.min(j0 + tile, cols);
        for (let i = i0; i < i1; i++) {
          const from = base + i * cols;
          for (let j = j0; j < j1; j++) dst[base + j * rows + i] = src[from + j] as number;
        }
      }
    }
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
  const out = backend.makeOutput([...outOuter, m, n], "float32");
  if (batch * m * n === 0) return out;
  const outData = backend.dataIdMap.get(out.dataId);
  if (k === 0) {
    (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
    return out;
  }

  const temporaries: TensorInfoLike[] = [];
  let done = false;
  try {
    const aPlain = transposeA ? transposeLastTwo(backend, a) : a; // [batchA, m, k]
    if (transposeA) temporaries.push(aPlain);
    const bPlain = transposeB ? transposeLastTwo(backend, b) : b; // [batchB, k, n]
    if (transposeB) temporaries.push(bPlain);
    reserveWasmHeap(
      backend,
      packedWeightBytes(k, n),
      `XNNPACK's packed copy of the right operand [${k}, ${n}] of matMul ${JSON.stringify(a.shape)} x ${JSON.stringify(b.shape)}`,
    );
    const aData = backend.dataIdMap.get(aPlain.dataId);
    const bData = backend.dataIdMap.get(bPlain.dataId);
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
    } else {
      for (let i = 0; i < batch; i++) {
        const aView =
          batchA === 1 ? null : registerHeapView(backend, aData.memoryOffset + i * m * k * F32_BYTES, m * k);
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
    done = true;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
    // A failure (a full heap) would otherwise leave the output allocated with no tensor to free it.
    if (!done) backend.disposeData(out.dataId);
  }
  return out;
}
