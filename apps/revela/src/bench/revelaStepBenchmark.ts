import { CausalLM, enableLora, type LoraConfig, loadPretrained } from "@revela/language-model";
// The step benchmark lives with the trainer's benchmarks (it drives RevelaTrainer.step); bundled here.
import {
  benchmarkRevelaStep,
  byKernelName,
  profileRevelaStep,
  type RevelaStepBenchmarkOptions,
  type RevelaStepBenchmarkResult,
  type RevelaStepProfile,
  type StepImplementation,
} from "../../../../packages/trainer/bench/revelaStepBenchmark.js";
import { type ScratchShape, scratchLlamaConfig } from "../pipeline/models.js";

export type {
  KernelRow,
  RevelaStepProfile,
  StepImplementation,
  StepSample,
} from "../../../../packages/trainer/bench/revelaStepBenchmark.js";
export { byKernelName };

export type StepBenchmarkOptions = Omit<RevelaStepBenchmarkOptions, "lm" | "retrieverModel"> & {
  /** A Hugging Face model folder; null = a from-scratch LLaMA of the `scratch` shape. */
  model: string | null;
  scratch: ScratchShape;
  /** LoRA on both models, the retriever on the LM's frozen base (what `train --model` runs); null: every weight trains. */
  lora?: LoraConfig | null;
  /** Also profile one step's forward and backward per kernel, for each implementation. */
  profile?: boolean;
};

export interface StepBenchmarkResult extends RevelaStepBenchmarkResult {
  profile?: RevelaStepProfile;
}

/** The LM and retriever `revela bench` times: a checkpoint folder, or a from-scratch LLaMA. */
export async function benchmarkModels(o: StepBenchmarkOptions): Promise<StepBenchmarkResult[]> {
  const { model, scratch, lora, profile, ...steps } = o;
  const hf = scratchLlamaConfig(scratch, o.seqLen);
  // As `train --model` loads a backbone with LoRA: its frozen decoder layers in JavaScript memory.
  const lm = model
    ? await loadPretrained(model, { offloadLayers: lora !== undefined && lora !== null })
    : CausalLM.create(hf, { seed: 0 });
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
    const results: StepBenchmarkResult[] = await benchmarkRevelaStep({ ...steps, lm, retrieverModel });
    if (profile) {
      for (const r of results) {
        r.profile = await profileRevelaStep({ ...steps, lm, retrieverModel }, r.implementation as StepImplementation);
      }
    }
    return results;
  } finally {
    lm.dispose();
    retrieverModel.dispose();
  }
}
