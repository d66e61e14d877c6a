import type { CausalLM } from "@revela/language-model";
import type * as tf from "@tensorflow/tfjs";

/** Variables under checkpoint-stable names (tfjs names come from a process-wide counter). */
export type NamedVariables = Record<string, tf.Variable>;

/** Trainable variables of a model under checkpoint-stable names: `<prefix>/<HF name or LoRA module>`. */
export function namedTrainables(prefix: string, model: CausalLM): NamedVariables {
  if (typeof prefix !== "string" || prefix === "")
    throw new Error(`namedTrainables: prefix must be a non-empty string, got ${JSON.stringify(prefix)}`);
  if (model === null || typeof model !== "object" || !(model.params instanceof Map) || !(model.lora instanceof Map))
    throw new Error(`namedTrainables: model (for "${prefix}") must be a CausalLM`);
  const out: NamedVariables = {};
  if (model.lora.size) {
    for (const [module, adapter] of model.lora) {
      out[`${prefix}/${module}.lora_A`] = adapter.a;
      out[`${prefix}/${module}.lora_B`] = adapter.b;
    }
  } else {
    if (model.offloaded instanceof Map && model.offloaded.size) {
      // Its resident weights alone would train while the decoder layers silently stayed as loaded.
      throw new Error(
        `namedTrainables: model (for "${prefix}") keeps ${model.offloaded.size} frozen decoder-layer weights in JavaScript memory (offloadLayers, e.g. "${model.offloaded.keys().next().value}"); train it through LoRA adapters (enableLora), or load it without offloadLayers to train every weight`,
      );
    }
    for (const [name, v] of model.params) out[`${prefix}/${name}`] = v;
  }
  return out;
}
