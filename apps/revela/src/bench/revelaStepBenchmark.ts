import { CausalLM, loadPretrained } from "@revela/language-model";
import { benchmarkRevelaStep, type RevelaStepBenchmarkResult, type StepImplementation } from "@revela/trainer";

export interface StepBenchmarkOptions {
  /** A Hugging Face model folder; null = a from-scratch LLaMA of the `scratch` shape. */
  model: string | null;
  scratch: { vocab: number; hiddenSize: number; layers: number; heads: number; kvHeads: number; ffn: number };
  batchSize: number;
  seqLen: number;
  implementations: StepImplementation[];
  steps: number;
  topK: number;
  temperature: number;
  breakdown: boolean;
  onStep?: (implementation: StepImplementation, step: number, ms: number) => void;
}

/** The LM and retriever `revela bench` times: a checkpoint folder, or a from-scratch LLaMA. */
export async function benchmarkModels(o: StepBenchmarkOptions): Promise<RevelaStepBenchmarkResult[]> {
  const hf = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: o.scratch.vocab,
    hidden_size: o.scratch.hiddenSize,
    intermediate_size: o.scratch.ffn,
    num_hidden_layers: o.scratch.layers,
    num_attention_heads: o.scratch.heads,
    num_key_value_heads: o.scratch.kvHeads,
    max_position_embeddings: o.seqLen,
  };
  const lm = o.model ? await loadPretrained(o.model) : CausalLM.create(hf, { seed: 0 });
  const retrieverModel = o.model
    ? await loadPretrained(o.model, { backbone: true })
    : CausalLM.create(hf, { seed: 1, backbone: true });
  try {
    return await benchmarkRevelaStep({
      lm,
      retrieverModel,
      batchSize: o.batchSize,
      seqLen: o.seqLen,
      implementations: o.implementations,
      steps: o.steps,
      topK: o.topK,
      temperature: o.temperature,
      breakdown: o.breakdown,
      ...(o.onStep ? { onStep: o.onStep } : {}),
    });
  } finally {
    lm.dispose();
    retrieverModel.dispose();
  }
}
