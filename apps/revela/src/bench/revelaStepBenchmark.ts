import { CausalLM, enableLora, type LoraConfig, loadPretrained } from "@revela/language-model";
import { benchmarkRevelaStep, type RevelaStepBenchmarkOptions, type RevelaStepBenchmarkResult } from "@revela/trainer";
import { type ScratchShape, scratchLlamaConfig } from "../pipeline/models.js";

export type StepBenchmarkOptions = Omit<RevelaStepBenchmarkOptions, "lm" | "retrieverModel"> & {
  /** A Hugging Face model folder; null = a from-scratch LLaMA of the `scratch` shape. */
  model: string | null;
  scratch: ScratchShape;
  /** LoRA on both models, the retriever on the LM's frozen base (what `train --model` runs); null: every weight trains. */
  lora?: LoraConfig | null;
};

/** The LM and retriever `revela bench` times: a checkpoint folder, or a from-scratch LLaMA. */
export async function benchmarkModels(o: StepBenchmarkOptions): Promise<RevelaStepBenchmarkResult[]> {
  const { model, scratch, lora, ...steps } = o;
  const hf = scratchLlamaConfig(scratch, o.seqLen);
  const lm = model ? await loadPretrained(model) : CausalLM.create(hf, { seed: 0 });
  if (lora) enableLora(lm, lora, { seed: 11 });
  const retrieverModel = lora
    ? CausalLM.withFrozenBase(lm, { backbone: true })
    : model
      ? await loadPretrained(model, { backbone: true })
      : CausalLM.create(hf, { seed: 1, backbone: true });
  if (lora) enableLora(retrieverModel, lora, { seed: 13 });
  // As `train --model` runs a pretrained backbone: each layer's activations recomputed in backward.
  if (model) for (const m of [lm, retrieverModel]) m.recomputeLayers = true;
  try {
    return await benchmarkRevelaStep({ ...steps, lm, retrieverModel });
  } finally {
    lm.dispose();
    retrieverModel.dispose();
  }
}
