import { tfSeed } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "../model/causalLM.js";
import { moveToJsMemory } from "../model/hostWeights.js";
import { namedVariable } from "../model/variableName.js";
import { isLoraTarget, type LoraConfig, loraScaling } from "./loraConfig.js";

/** Linear modules of the model (full names without ".weight"), in checkpoint order. */
export function linearModules(model: CausalLM): string[] {
  return model
    .parameterSpecs()
    .filter((s) => s.name.endsWith(".weight") && s.shape.length === 2 && s.name.startsWith("model.layers."))
    .map((s) => s.name.slice(0, -".weight".length));
}

/** [out, in] of a linear module's weight, resident or offloaded (see CausalLM.offloaded). */
export function moduleWeightShape(model: CausalLM, module: string): [number, number] {
  const name = `${module}.weight`;
  const shape = model.params.get(name)?.shape ?? model.offloaded.get(name)?.shape;
  if (shape?.length !== 2) throw new Error(`LoRA: module "${module}" has no 2-D weight "${name}"`);
  return [shape[0] as number, shape[1] as number];
}

/**
 * Adds LoRA adapters to every targeted module and freezes the base weights, so only the adapters
 * train. Initialisation as PEFT: A ~ U(−1/√in, 1/√in) (kaiming-uniform with a = √5), B = 0, so the
 * model's output is unchanged until B learns.
 */
export function enableLora(model: CausalLM, config: LoraConfig, options: { seed?: number } = {}): string[] {
  if (model.lora.size) throw new Error("enableLora: the model already has LoRA adapters (merge or remove them first)");
  const targets = linearModules(model).filter((m) => isLoraTarget(config, m));
  if (!targets.length) {
    throw new Error(
      `enableLora: target_modules ${JSON.stringify(config.targetModules)} match no linear module of ${model.config.architecture}`,
    );
  }
  const seed = options.seed ?? 0;
  // A model with offloaded layers keeps its adapters in JavaScript memory between uses (wasm):
  // each leaves the heap as soon as it is made, so that the heap never holds them all.
  const keepOut = (adapter: { a: tf.Variable; b: tf.Variable }) => {
    if (!model.adaptersInJsMemory) return;
    moveToJsMemory(adapter.a);
    moveToJsMemory(adapter.b);
  };
  targets.forEach((module, i) => {
    const [out, inp] = moduleWeightShape(model, module);
    const bound = 1 / Math.sqrt(inp);
    const adapter = {
      a: namedVariable(
        () => tf.randomUniform([config.r, inp], -bound, bound, "float32", tfSeed(seed, 7919, i)),
        `${module}.lora_A`,
      ),
      b: namedVariable(() => tf.zeros([out, config.r]), `${module}.lora_B`),
      scaling: loraScaling(config),
      dropout: config.loraDropout,
    };
    model.lora.set(module, adapter);
    keepOut(adapter);
  });
  for (const p of model.params.values()) p.trainable = false;
  return targets;
}

/** Folds every adapter into its base weight (W += scaling · B A), removes the adapters and unfreezes the weights. */
export function mergeLora(model: CausalLM): void {
  if (model.sharesBase) {
    throw new Error(
      "mergeLora: the model's base weights are shared with another model (CausalLM.withFrozenBase); merging would change both",
    );
  }
  if (model.offloaded.size) {
    throw new Error(
      "mergeLora: the model's decoder-layer weights are offloaded to JavaScript memory (loaded with offloadLayers); load it without offloadLayers to merge adapters into them",
    );
  }
  for (const [module, adapter] of model.lora) {
    const w = model.params.get(`${module}.weight`) as tf.Variable;
    // assign() references its argument: inside the tidy, the new value is freed with the old weight.
    tf.tidy(() => w.assign(tf.add(w, tf.mul(tf.matMul(adapter.b, adapter.a), adapter.scaling))));
    tf.dispose([adapter.a, adapter.b]);
  }
  model.lora.clear();
  for (const p of model.params.values()) p.trainable = true;
}

/** PEFT's tensor names: "base_model.model." + module + ".lora_A.weight" / ".lora_B.weight". */
export function peftTensorName(module: string, which: "A" | "B", backbone: boolean): string {
  // PEFT wraps the Hugging Face model object; a backbone (LlamaModel) has no "model." level.
  const inner = backbone ? module.replace(/^model\./, "") : module;
  return `base_model.model.${inner}.lora_${which}.weight`;
}

/** PEFT tensor name → our module name, accepting both the causal-LM and the backbone layouts. */
export function moduleFromPeftName(name: string): { module: string; which: "A" | "B" } | null {
  const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
  if (!m) return null;
  const inner = m[1] as string;
  return { module: inner.startsWith("model.") ? inner : `model.${inner}`, which: m[2] as "A" | "B" };
}
