/**
 * @revela/kernels — backend choice and fast, gradient-checked training ops for TensorFlow.js.
 * This file is the package's whole public API.
 */

export { frugalVariableGrads } from "./autodiff/frugalVariableGrads.js";
export { type RecomputeOptions, recomputeInBackward } from "./autodiff/recomputeInBackward.js";
export {
  BACKEND_NAMES,
  type BackendName,
  type BackendReport,
  formatBackendReport,
  getBackendReport,
  type InitBackendOptions,
  initBackend,
} from "./backend/initBackend.js";
export { MAX_WASM_THREADS } from "./backend/wasmThreads.js";
export { type AttentionOptions, causalSelfAttention, MASKED_SCORE } from "./ops/attention.js";
export { IGNORE_INDEX, tokenCrossEntropy } from "./ops/crossEntropy.js";
export { type HeadCrossEntropyOptions, headCrossEntropy } from "./ops/headCrossEntropy.js";
export { mergeHeads, splitHeads } from "./ops/heads.js";
export { linear } from "./ops/linear.js";
export { residualAdd } from "./ops/residualAdd.js";
export { rmsNorm } from "./ops/rmsNorm.js";
export { applyRope, type Llama3RopeScaling, type RopeOptions, ropeInverseFrequencies, ropeTables } from "./ops/rope.js";
export { siluGate, swigluMlp } from "./ops/swiglu.js";
export {
  type BooleanOption,
  type ChoiceOption,
  checkOption,
  describeOption,
  type NumberOption,
  type OptionRule,
  type OptionSpec,
  optionAllows,
  optionDefaults,
  parseOption,
} from "./options.js";
export { mix32 } from "./random/mix32.js";
export { tfSeed } from "./random/tfSeed.js";
export {
  formatBytes,
  guardWasmHeap,
  occupyWasmHeap,
  resetWasmTensorPeak,
  WASM_MAX_HEAP_BYTES,
  WasmHeapExhaustedError,
  wasmHeapBytes,
  wasmTensorBytes,
} from "./wasm/heapGuard.js";
export { isFastMatMulRegistered, registerWasmKernels } from "./wasm/registerWasmKernels.js";
