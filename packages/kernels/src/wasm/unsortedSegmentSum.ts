import type * as tf from "@tensorflow/tfjs";
import type { BackendWasmInternals, TensorInfoLike } from "./wasmInternals.js";

/**
 * UnsortedSegmentSum for the wasm backend, which 4.22 lacks. It is the gradient of every gather,
 * so without it no embedding table can be trained on wasm. out[s, ...] = Σ_{i: ids[i] = s} x[i, ...];
 * ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
export function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfoLike {
  const backend = args.backend as BackendWasmInternals;
  const x = args.inputs.x as TensorInfoLike;
  const segmentIds = args.inputs.segmentIds as TensorInfoLike;
  const numSegments = Number(args.attrs?.numSegments);
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`unsortedSegmentSum: numSegments must be a non-negative integer, got ${args.attrs?.numSegments}`);
  }
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`unsortedSegmentSum (wasm): x must be float32 or int32, got ${x.dtype}`);
  }
  const idCount = segmentIds.shape.reduce((p, s) => p * s, 1);
  const rows = x.shape.slice(0, segmentIds.shape.length).reduce((p, s) => p * s, 1);
  if (
    segmentIds.shape.length > x.shape.length ||
    segmentIds.shape.some((s, i) => s !== x.shape[i]) ||
    rows !== idCount
  ) {
    throw new Error(
      `unsortedSegmentSum: segmentIds shape ${JSON.stringify(segmentIds.shape)} must be a prefix of x shape ${JSON.stringify(x.shape)}`,
    );
  }
  const inner = x.shape.slice(segmentIds.shape.length);
  const innerSize = inner.reduce((p, s) => p * s, 1);
  const out = backend.makeOutput([numSegments, ...inner], x.dtype);
  const outValues = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xValues = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array;
  outValues.fill(0);
  for (let i = 0; i < idCount; i++) {
    const s = ids[i] as number;
    if (s < 0 || s >= numSegments) continue;
    const src = i * innerSize;
    const dst = s * innerSize;
    for (let j = 0; j < innerSize; j++)
      outValues[dst + j] = (outValues[dst + j] as number) + (xValues[src + j] as number);
  }
  return out;
}
