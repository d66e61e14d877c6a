import * as tf from "@tensorflow/tfjs";
import type { BackendWasmInternals, TensorInfoLike } from "./wasmInternals.js";

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * Slice for the wasm backend as block copies. The stock kernel walks the output element by element
 * (taking half a vocabulary's rows of a [8192, 256] head, a contiguous block, cost 20 ms); here the
 * trailing axes taken whole merge into one contiguous run and each run is one typed-array `set`.
 */
export function fastSlice(args: KernelArgs): TensorInfoLike {
  const backend = args.backend as unknown as BackendWasmInternals;
  const x = args.inputs.x as TensorInfoLike;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.TensorInfo,
    args.attrs?.begin as number | number[],
    args.attrs?.size as number | number[],
  ) as [number[], number[]];
  tf.slice_util.assertParamsValid(x as unknown as tf.TensorInfo, begin, size);
  const out = backend.makeOutput(size, x.dtype);
  const total = size.reduce((p, s) => p * s, 1);
  if (total === 0) return out;
  const rank = x.shape.length;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  if (rank === 0) {
    dst.set(src.subarray(0, 1));
    return out;
  }
  const strides = tf.util.computeStrides(x.shape);
  // Axes from `first` on are contiguous in x: taken whole after the first of them.
  let first = rank - 1;
  while (first > 0 && size[first] === x.shape[first]) first--;
  const run = size.slice(first).reduce((p, s) => p * s, 1);
  const runStart = (begin[first] as number) * (first < rank - 1 ? (strides[first] as number) : 1);
  const runs = total / run;
  // Walk the output's outer index (axes before `first`) like an odometer.
  const at = new Array<number>(first).fill(0);
  for (let r = 0; r < runs; r++) {
    let offset = runStart;
    for (let a = 0; a < first; a++) offset += ((begin[a] as number) + (at[a] as number)) * (strides[a] as number);
    dst.set(src.subarray(offset, offset + run), r * run);
    for (let a = first - 1; a >= 0; a--) {
      at[a] = (at[a] as number) + 1;
      if ((at[a] as number) < (size[a] as number)) break;
      at[a] = 0;
    }
  }
  return out;
}
