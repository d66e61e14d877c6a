import { ConfigReader, type ModelConfig, readLlamaFamilyConfig, toHfConfigBase } from "../config/modelConfig.js";
import type { ArchitectureDefinition } from "./architecture.js";

/** Qwen2 / Qwen2.5: a LLaMA block with biases on q, k and v (never on o); optional sliding window is not supported. */
export const qwen2: ArchitectureDefinition = {
  name: "Qwen2ForCausalLM",
  modelType: "qwen2",
  loraTargets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
  parseConfig(raw, source): ModelConfig {
    const reader = new ConfigReader(raw, source);
    const base = readLlamaFamilyConfig(reader, "Qwen2ForCausalLM", "qwen2");
    reader.only("use_sliding_window", [false], "sliding-window attention is not implemented");
    // Only consulted when use_sliding_window is true.
    reader.used.add("sliding_window");
    reader.used.add("max_window_layers");
    return { ...base, qkvBias: true, oBias: false, extra: reader.unused() };
  },
  toHfConfig(c) {
    return { ...toHfConfigBase(c), use_sliding_window: false, attention_dropout: 0.0 };
  },
};
