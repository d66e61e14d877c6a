import * as tf from "@tensorflow/tfjs";
import type { BackendWasmInternals, TensorInfoLike } from "./wasmInternals.js";

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * Sum for the wasm backend over one contiguous run of axes, x viewed as [outer, reduced, inner]. The
 * stock kernel transposes the reduced axes to the end first: summing a [2048, 256] activation
 * gradient over its rows (every norm weight's and bias's gradient) took 5 ms. Here rows are added
 * into the output row in place, a stride-1 loop. float32 only; other dtypes and axes that do not
 * form one run go to the stock kernel.
 */
export function fastSum(stock: tf.KernelFunc) {
  return (args: KernelArgs): TensorInfoLike => {
    const backend = args.backend as unknown as BackendWasmInternals;
    const x = args.inputs.x as TensorInfoLike;
    if (x.dtype !== "float32") return stock(args) as TensorInfoLike;
    const axes = tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape);
    const sorted = [...new Set(axes)].sort((a, b) => a - b);
    const first = sorted[0];
    const last = sorted[sorted.length - 1];
    if (first === undefined || last === undefined || last - first + 1 !== sorted.length) {
      return stock(args) as TensorInfoLike;
    }
    const outer = x.shape.slice(0, first).reduce((p, s) => p * s, 1);
    const reduced = x.shape.slice(first, last + 1).reduce((p, s) => p * s, 1);
    const inner = x.shape.slice(last + 1).reduce((p, s) => p * s, 1);
    const keepDims = Boolean(args.attrs?.keepDims);
    const shape = keepDims
      ? x.shape.map((s, a) => (a >= first && a <= last ? 1 : s))
      : x.shape.filter((_, a) => a < first || a > last);
    const out = backend.makeOutput(shape, "float32");
    const dst = backend.typedArrayFromHeap(out) as Float32Array;
    const src = backend.typedArrayFromHeap(x) as Float32Array;
    if (inner === 1) {
      // A row sum: accumulate in a local, four lanes to break the add chain.
      for (let o = 0; o < outer; o++) {
        const base = o * reduced;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let r = 0;
        for (; r + 3 < reduced; r += 4) {
          s0 += src[base + r] as number;
          s1 += src[base + r + 1] as number;
          s2 += src[base + r + 2] as number;
          s3 += src[base + r + 3] as number;
        }
        for (; r < reduced; r++) s0 += src[base + r] as number;
        dst[o] = s0 + s1 + (s2 + s3);
      }
      return out;
    }
    dst.fill(0);
    for (let o = 0; o < outer; o++) {
      const to = o * inner;
      for (let r = 0; r < reduced; r++) {
        const from = (o * reduced + r) * inner;
        for (let i = 0; i < inner; i++) dst[to + i] = (dst[to + i] as number) + (src[from + i] as number);
      }
    }
    return out;
  };
}
