import * as tf from "@tensorflow/tfjs";
import { fastBatchMatMul } from "./fastBatchMatMul.js";
import { sharedIdentity } from "./sharedIdentity.js";
import { unsortedSegmentSum } from "./unsortedSegmentSum.js";

let stockBatchMatMul: tf.KernelConfig | undefined;

/**
 * Registers this package's wasm kernels: the missing ones (UnsortedSegmentSum), the fast
 * BatchMatMul and an Identity that shares its input's buffer. Idempotent. `fastMatMul: false` restores the stock BatchMatMul (for baselines).
 */
export function registerWasmKernels(options: { fastMatMul?: boolean } = {}): void {
  const fastMatMul = options.fastMatMul ?? true;
  if (!tf.getKernel("UnsortedSegmentSum", "wasm")) {
    tf.registerKernel({
      kernelName: "UnsortedSegmentSum",
      backendName: "wasm",
      kernelFunc: unsortedSegmentSum as tf.KernelFunc,
    });
  }
  if (tf.getKernel("Identity", "wasm")?.kernelFunc !== (sharedIdentity as tf.KernelFunc)) {
    if (tf.getKernel("Identity", "wasm")) tf.unregisterKernel("Identity", "wasm");
    tf.registerKernel({ kernelName: "Identity", backendName: "wasm", kernelFunc: sharedIdentity as tf.KernelFunc });
  }
  const current = tf.getKernel("BatchMatMul", "wasm");
  if (stockBatchMatMul === undefined) {
    if (!current) throw new Error("@revela/kernels: @tensorflow/tfjs-backend-wasm registered no BatchMatMul kernel");
    stockBatchMatMul = current;
  }
  const wanted: tf.KernelConfig = fastMatMul
    ? {
        kernelName: "BatchMatMul",
        backendName: "wasm",
        kernelFunc: fastBatchMatMul as tf.KernelFunc,
        setupFunc: stockBatchMatMul.setupFunc,
      }
    : stockBatchMatMul;
  if (current?.kernelFunc === wanted.kernelFunc) return;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel(wanted);
}

export function isFastMatMulRegistered(): boolean {
  return tf.getKernel("BatchMatMul", "wasm")?.kernelFunc === (fastBatchMatMul as tf.KernelFunc);
}
