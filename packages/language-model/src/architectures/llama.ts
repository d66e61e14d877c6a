import { ConfigReader, type ModelConfig, readLlamaFamilyConfig, toHfConfigBase } from "../config/modelConfig.js";
import type { ArchitectureDefinition } from "./architecture.js";

/** LLaMA (Llama 2/3, 3.2, SmolLM2, TinyLlama…): `attention_bias` puts biases on q, k, v and o. */
export const llama: ArchitectureDefinition = {
  name: "LlamaForCausalLM",
  modelType: "llama",
  loraTargets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
  parseConfig(raw, source): ModelConfig {
    const reader = new ConfigReader(raw, source);
    const base = readLlamaFamilyConfig(reader, "LlamaForCausalLM", "llama");
    const bias = reader.bool("attention_bias", false);
    reader.used.add("pretraining_tp"); // a tensor-parallel split of the same computation: no effect here
    return { ...base, qkvBias: bias, oBias: bias, extra: reader.unused() };
  },
  toHfConfig(c) {
    return { ...toHfConfigBase(c), attention_bias: c.qkvBias, mlp_bias: false, attention_dropout: 0.0 };
  },
};
