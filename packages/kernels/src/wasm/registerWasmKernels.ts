import * as tf from "@tensorflow/tfjs";
import { fastBatchMatMul } from "./fastBatchMatMul.js";
import { fastGather } from "./fastGather.js";
import { fastSlice } from "./fastSlice.js";
import { fastSum } from "./fastSum.js";
import { sharedIdentity } from "./sharedIdentity.js";
import { unsortedSegmentSum } from "./unsortedSegmentSum.js";

/** The stock wasm kernels this package replaces, kept for baselines and for the cases ours hand back. */
const stock = new Map<string, tf.KernelConfig>();

function stockKernel(name: string): tf.KernelConfig {
  let config = stock.get(name);
  if (!config) {
    config = tf.getKernel(name, "wasm");
    if (!config) throw new Error(`@revela/kernels: @tensorflow/tfjs-backend-wasm registered no ${name} kernel`);
    stock.set(name, config);
  }
  return config;
}

/** Registers `kernelFunc` for `name` on wasm (the stock setup kept) unless it is already registered. */
function use(name: string, kernelFunc: tf.KernelFunc, setupFunc = stockKernel(name).setupFunc): void {
  const current = tf.getKernel(name, "wasm");
  if (current?.kernelFunc === kernelFunc) return;
  if (current) tf.unregisterKernel(name, "wasm");
  tf.registerKernel({ kernelName: name, backendName: "wasm", kernelFunc, setupFunc });
}

function useStock(name: string): void {
  const config = stockKernel(name);
  if (tf.getKernel(name, "wasm")?.kernelFunc === config.kernelFunc) return;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel(config);
}

// One instance per stock kernel, so that `use` recognises it as already registered.
let replacements: Map<string, tf.KernelFunc> | undefined;

function fastKernels(): Map<string, tf.KernelFunc> {
  replacements ??= new Map<string, tf.KernelFunc>([
    ["BatchMatMul", fastBatchMatMul as tf.KernelFunc],
    ["GatherV2", fastGather(stockKernel("GatherV2").kernelFunc) as tf.KernelFunc],
    ["Slice", fastSlice as tf.KernelFunc],
    ["Sum", fastSum(stockKernel("Sum").kernelFunc) as tf.KernelFunc],
  ]);
  return replacements;
}

/**
 * Registers this package's wasm kernels: the missing one (UnsortedSegmentSum), an Identity that
 * shares its input's buffer, and faster BatchMatMul, GatherV2, Slice and Sum. Idempotent.
 * `fastMatMul: false` restores the stock BatchMatMul, `fastKernels: false` the stock versions of all
 * four (for baselines).
 */
export function registerWasmKernels(options: { fastMatMul?: boolean; fastKernels?: boolean } = {}): void {
  const fast = options.fastKernels ?? true;
  const fastMatMul = fast && (options.fastMatMul ?? true);
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
  for (const [name, kernelFunc] of fastKernels()) {
    const wanted = name === "BatchMatMul" ? fastMatMul : fast;
    if (wanted) use(name, kernelFunc);
    else useStock(name);
  }
}

export function isFastMatMulRegistered(): boolean {
  return tf.getKernel("BatchMatMul", "wasm")?.kernelFunc === fastKernels().get("BatchMatMul");
}
