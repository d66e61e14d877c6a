import type { ModelConfig } from "../config/modelConfig.js";

/**
 * What a backbone contributes: how to read and write its config.json and which parameters it has
 * (with Hugging Face names and shapes). The decoder computation is shared by the LLaMA family;
 * an architecture that differs only in config and parameters (Qwen2: q/k/v biases) is one small file.
 */
export interface ArchitectureDefinition {
  /** The Hugging Face `architectures[0]` name this entry handles, e.g. "LlamaForCausalLM". */
  name: string;
  /** The Hugging Face `model_type`. */
  modelType: string;
  /** config.json object → our config. `source` names the file in error messages. */
  parseConfig(raw: Record<string, unknown>, source: string): ModelConfig;
  /** Our config → config.json object. */
  toHfConfig(config: ModelConfig): Record<string, unknown>;
  /** Module names PEFT may target with LoRA (`target_modules`). */
  loraTargets: readonly string[];
}

/** A parameter of the model: its Hugging Face name, shape and how random initialisation fills it. */
export interface ParameterSpec {
  name: string;
  shape: number[];
  init: "normal" | "ones" | "zeros";
}

/** Hugging Face names and shapes of every parameter, in checkpoint order. */
export function parameterSpecs(c: ModelConfig, options: { lmHead?: boolean } = {}): ParameterSpec[] {
  const d = c.hiddenSize;
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const specs: ParameterSpec[] = [{ name: "model.embed_tokens.weight", shape: [c.vocabSize, d], init: "normal" }];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [d], init: "ones" });
    for (const [proj, out, inp] of [
      ["q_proj", q, d],
      ["k_proj", kv, d],
      ["v_proj", kv, d],
      ["o_proj", d, q],
    ] as const) {
      specs.push({ name: `${p}.self_attn.${proj}.weight`, shape: [out, inp], init: "normal" });
      const hasBias = proj === "o_proj" ? c.oBias : c.qkvBias;
      if (hasBias) specs.push({ name: `${p}.self_attn.${proj}.bias`, shape: [out], init: "zeros" });
    }
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [d], init: "ones" });
    specs.push({ name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediateSize, d], init: "normal" });
    specs.push({ name: `${p}.mlp.up_proj.weight`, shape: [c.intermediateSize, d], init: "normal" });
    specs.push({ name: `${p}.mlp.down_proj.weight`, shape: [d, c.intermediateSize], init: "normal" });
  }
  specs.push({ name: "model.norm.weight", shape: [d], init: "ones" });
  if ((options.lmHead ?? true) && !c.tieWordEmbeddings) {
    specs.push({ name: "lm_head.weight", shape: [c.vocabSize, d], init: "normal" });
  }
  return specs;
}
