import type * as tf from "@tensorflow/tfjs";
import type { TensorInfoLike } from "./wasmInternals.js";

/**
 * Identity (tf.clone) for the wasm backend that shares the input's buffer, as the cpu and webgl
 * backends do, instead of copying it. tfjs keeps what backward needs as clones
 * (`keep(clone(t))`), so with the stock kernel every saved activation — and every weight a matMul
 * saves, frozen or not — was a second copy in the heap: a LoRA step on a Qwen2.5-0.5B shape copied
 * the 1.8 GiB base once per forward pass. Tensor buffers are never written after their kernel
 * returns (a variable's assign swaps buffers), so sharing is safe; the backend counts references.
 */
export function sharedIdentity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfoLike {
  const x = args.inputs.x as TensorInfoLike;
  const backend = args.backend as { incRef(dataId: object): void };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
