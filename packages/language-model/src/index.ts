/**
 * @revela/language-model — LLaMA-family decoders for TensorFlow.js with Hugging Face checkpoints,
 * PEFT LoRA and tokenizers. This file is the package's whole public API.
 */
export { type ArchitectureDefinition, type ParameterSpec, parameterSpecs } from "./architectures/architecture.js";
export { llama } from "./architectures/llama.js";
export { qwen2 } from "./architectures/qwen2.js";
export {
  getArchitecture,
  listArchitectures,
  parseModelConfig,
  registerArchitecture,
} from "./architectures/registry.js";
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  CONFIG_FILE,
  type LoadOptions,
  loadLoraAdapter,
  loadPretrained,
  type SaveOptions,
  saveLoraAdapter,
  saveModel,
} from "./checkpoint/pretrained.js";
export {
  CONFIG_LIMITS,
  ConfigReader,
  MAX_TENSOR_ELEMENTS,
  type ModelConfig,
  readLlamaFamilyConfig,
  toHfConfigBase,
} from "./config/modelConfig.js";
export { enableLora, linearModules, mergeLora, moduleFromPeftName, peftTensorName } from "./lora/lora.js";
export {
  isLoraTarget,
  type LoraConfig,
  loraScaling,
  MAX_LORA_RANK,
  parseLoraConfig,
  toPeftConfig,
} from "./lora/loraConfig.js";
export {
  type AttentionTermFn,
  CausalLM,
  type CreateOptions,
  checkParameterShapes,
  type ForwardOptions,
  type ForwardResult,
  labelsFromMask,
  nextTokenLoss,
} from "./model/causalLM.js";
export { initCopyAttention } from "./model/copyAttentionInit.js";
export { type GenerateOptions, greedyGenerate } from "./model/generate.js";
export {
  canKeepInJsMemory,
  guardDataMoves,
  type HostWeight,
  hostWeightBytes,
  hostWeightValues,
  isInJsMemory,
  moveToJsMemory,
} from "./model/hostWeights.js";
export {
  activationFloatsPerTokenLayer,
  checkRunMemory,
  estimateRunMemory,
  type RunMemoryCheckOptions,
  RunMemoryError,
  type RunMemoryEstimate,
  type RunMemoryItem,
  type RunMemoryShape,
} from "./model/memoryPlan.js";
export type { LoraAdapter } from "./model/projection.js";
export {
  type CheckpointHeaders,
  type CheckpointTensorLocation,
  DEFAULT_MAX_SHARD_BYTES,
  type ReadCheckpointOptions,
  readCheckpointHeaders,
  readCheckpointTensors,
  SAFE_ADAPTER_WEIGHTS_NAME,
  SAFE_WEIGHTS_NAME,
  type WriteCheckpointOptions,
  type WrittenCheckpoint,
  writeCheckpointTensors,
} from "./safetensors/checkpoint.js";
export { decodeHalf, encodeHalf, type FloatDtype, type SafetensorsDtype } from "./safetensors/dtypes.js";
export { parseSafetensorsHeader, type SafetensorsHeader, type SafetensorsTensorInfo } from "./safetensors/header.js";
export {
  type ReadSafetensorsOptions,
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsTensor,
  readSafetensorsTensorBytes,
  type SafetensorsRawTensor,
  type SafetensorsTensor,
} from "./safetensors/readSafetensors.js";
export { SafetensorsError } from "./safetensors/safetensorsError.js";
export {
  encodeSafetensorsHeader,
  type TensorsInput,
  type WritableTensor,
  writeSafetensors,
} from "./safetensors/writeSafetensors.js";
export { type BatchOptions, batchTokenIds, type EncodedBatch } from "./tokenizer/batchTokenIds.js";
export { type CompactDecodeOptions, CompactTokenizer } from "./tokenizer/compactTokenizer.js";
export type {
  DecodeOptions,
  EncodeBatchOptions,
  FileTokenizer,
  TextTokenizer,
} from "./tokenizer/textTokenizer.js";
export { Tokenizer, type TokenizerOptions } from "./tokenizer/tokenizer.js";
export { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from "./tokenizer/tokenizerFiles.js";
export {
  type CompactionFromTextsOptions,
  UNKNOWN_COMPACT_ID,
  UNKNOWN_ORIGINAL_ID,
  VOCAB_COMPACTION_FILE,
  VocabularyCompaction,
  type VocabularyCompactionJSON,
} from "./tokenizer/vocabularyCompaction.js";
