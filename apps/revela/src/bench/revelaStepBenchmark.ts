import { frugalVariableGrads } from "@revela/kernels";
import { CausalLM, loadPretrained } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import { AdamW, namedTrainables, type RevelaBatchTensors, revelaLoss } from "@revela/trainer";
import * as tf from "@tensorflow/tfjs";

export type StepImplementation = "dense" | "streaming" | "topk";

export interface StepBenchmarkOptions {
  /** A Hugging Face model folder; null = a from-scratch LLaMA of the `scratch` shape. */
  model: string | null;
  scratch: { vocab: number; hiddenSize: number; layers: number; heads: number; kvHeads: number; ffn: number };
  batchSize: number;
  seqLen: number;
  implementations: StepImplementation[];
  /** Timed steps per implementation, after one untimed warm-up step. */
  steps: number;
  topK: number;
  temperature: number;
  onStep?: (implementation: StepImplementation, step: number, ms: number) => void;
}

export interface StepBenchmarkResult {
  implementation: StepImplementation;
  medianStepMs: number;
  tokensPerSecond: number;
  /** wasm heap after the steps (it only grows, so this is the peak a step needed); null off wasm. */
  wasmHeapMiB: number | null;
  rssMiB: number;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * Full Revela training steps — retriever on query and passage views, both LM passes, the in-batch
 * term, backward, AdamW on every weight of both models — on random token ids, timed per in-batch
 * implementation. The content of the tokens does not change the cost of a step.
 */
export async function benchmarkRevelaStep(o: StepBenchmarkOptions): Promise<StepBenchmarkResult[]> {
  if (o.batchSize < 2)
    throw new Error(`bench: batch size must be at least 2 (a chunk never retrieves itself), got ${o.batchSize}`);
  if (o.seqLen < 4) throw new Error(`bench: sequence length must be at least 4, got ${o.seqLen}`);
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
  const backbone = o.model
    ? await loadPretrained(o.model, { backbone: true })
    : CausalLM.create(hf, { seed: 1, backbone: true });
  if (o.seqLen > lm.config.maxPositionEmbeddings) {
    throw new Error(
      `bench: sequence length ${o.seqLen} exceeds the model's max_position_embeddings (${lm.config.maxPositionEmbeddings})`,
    );
  }
  const [b, l, v] = [o.batchSize, o.seqLen, lm.config.vocabSize];
  const tokenizerStub = { eosTokenId: 1, padTokenId: 0, encode: () => [] as number[] };
  const retriever = new DenseEncoder(backbone, tokenizerStub, { maxLength: l });
  const ids = tf.randomUniform([b, l], 2, v, "int32", 7) as tf.Tensor2D;
  const mask = tf.ones([b, l], "int32") as tf.Tensor2D;
  const batch: RevelaBatchTensors = {
    lmIds: ids,
    lmMask: mask,
    queryIds: tf.slice(ids, [0, 0], [b, l >> 1]) as tf.Tensor2D,
    queryMask: tf.ones([b, l >> 1], "int32") as tf.Tensor2D,
    passageIds: ids,
    passageMask: mask,
    lmTokens: b * l,
  };
  const vars = [...Object.values(namedTrainables("retriever", backbone)), ...Object.values(namedTrainables("lm", lm))];
  const optimizer = new AdamW(vars, { lr: 1e-5 });
  const results: StepBenchmarkResult[] = [];
  try {
    for (const implementation of o.implementations) {
      const options = {
        temperature: o.temperature,
        implementation,
        topK: Math.min(o.topK, b - 1),
        valueNorm: true,
        dualLoss: false,
      };
      const step = () => {
        const t0 = performance.now();
        const { value, grads } = frugalVariableGrads(() => revelaLoss(retriever, lm, batch, options).loss, vars);
        value.dataSync();
        optimizer.step(grads);
        tf.dispose([value, grads]);
        (vars[0] as tf.Variable).dataSync();
        return performance.now() - t0;
      };
      step();
      const times: number[] = [];
      for (let i = 0; i < o.steps; i++) {
        times.push(step());
        o.onStep?.(implementation, i + 1, times[i] as number);
      }
      const ms = median(times);
      const heap = (tf.backend() as unknown as { wasm?: { HEAP8: Int8Array } }).wasm?.HEAP8;
      results.push({
        implementation,
        medianStepMs: ms,
        tokensPerSecond: (b * l * 1000) / ms,
        wasmHeapMiB: heap ? Math.round(heap.length / 2 ** 20) : null,
        rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      });
    }
  } finally {
    optimizer.dispose();
    tf.dispose([ids, mask, batch.queryIds, batch.queryMask]);
    lm.dispose();
    backbone.dispose();
  }
  return results;
}
