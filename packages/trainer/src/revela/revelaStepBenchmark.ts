import { documentWeights } from "@revela/inbatch-attention";
import { frugalVariableGrads } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "../optim/adamW.js";
import type { RevelaBatchTensors } from "./revelaBatch.js";
import { type RevelaLossOptions, revelaLmLoss, revelaLoss } from "./revelaLoss.js";
import { namedTrainables } from "./revelaTrainer.js";

export type StepImplementation = RevelaLossOptions["implementation"];

export interface RevelaStepBenchmarkOptions {
  /** The LM (with its head) and the retriever's backbone; their weights are changed by the steps. */
  lm: CausalLM;
  retrieverModel: CausalLM;
  batchSize: number;
  seqLen: number;
  implementations: StepImplementation[];
  /** Timed steps per implementation, after one untimed warm-up step. */
  steps: number;
  topK: number;
  temperature: number;
  /** Also time the step's pieces (forward parts and optimizer alone; backward = the rest). */
  breakdown?: boolean;
  onStep?: (implementation: StepImplementation, step: number, ms: number) => void;
}

export interface RevelaStepBreakdown {
  retrieverMs: number;
  /** LM pass 1: keys and values only. */
  pass1Ms: number;
  /** LM pass 2 without the in-batch term (a plain forward with the loss). */
  pass2WithoutTermMs: number;
  /** Forward of the in-batch term in every layer. */
  inBatchTermMs: number;
  backwardMs: number;
  optimizerMs: number;
}

export interface RevelaStepBenchmarkResult {
  implementation: StepImplementation;
  medianStepMs: number;
  tokensPerSecond: number;
  /** wasm heap after the steps (it only grows: the peak a step needed); null off wasm. */
  wasmHeapMiB: number | null;
  rssMiB: number;
  breakdown?: RevelaStepBreakdown;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Median wall time of `runs` calls of f after one untimed call. */
const timeMedian = (f: () => void, runs: number) => {
  f();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return median(times);
};

/**
 * Full Revela training steps — the retriever on query and passage views, both LM passes, the
 * in-batch term, backward, AdamW on every trainable weight of both models — on random token ids,
 * timed per in-batch implementation (the ids' content does not change a step's cost). The
 * benchmark behind `pnpm bench` in this package and `revela bench`.
 */
export async function benchmarkRevelaStep(o: RevelaStepBenchmarkOptions): Promise<RevelaStepBenchmarkResult[]> {
  const op = "benchmarkRevelaStep";
  if (!Number.isInteger(o.batchSize) || o.batchSize < 2) {
    throw new Error(`${op}: batchSize must be an integer ≥ 2 (a chunk never retrieves itself), got ${o.batchSize}`);
  }
  if (!Number.isInteger(o.seqLen) || o.seqLen < 4)
    throw new Error(`${op}: seqLen must be an integer ≥ 4, got ${o.seqLen}`);
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`${op}: steps must be an integer ≥ 1, got ${o.steps}`);
  if (o.implementations.length === 0) throw new Error(`${op}: implementations must name at least one`);
  for (const model of [o.lm, o.retrieverModel]) {
    if (o.seqLen > model.config.maxPositionEmbeddings) {
      throw new Error(
        `${op}: seqLen ${o.seqLen} exceeds max_position_embeddings (${model.config.maxPositionEmbeddings}) of a model`,
      );
    }
  }
  if (o.lm === o.retrieverModel) throw new Error(`${op}: the LM and the retriever must be separate models`);
  const [b, l, v] = [o.batchSize, o.seqLen, o.lm.config.vocabSize];
  const tokenizerStub = { eosTokenId: 1, padTokenId: 0, encode: () => [] as number[] };
  const retriever = new DenseEncoder(o.retrieverModel, tokenizerStub, { maxLength: l });
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
  const vars = [
    ...Object.values(namedTrainables("retriever", o.retrieverModel)),
    ...Object.values(namedTrainables("lm", o.lm)),
  ];
  const optimizer = new AdamW(vars, { lr: 1e-5 });
  const sync = (t: tf.Tensor) => void t.dataSync();
  const results: RevelaStepBenchmarkResult[] = [];
  try {
    for (const implementation of o.implementations) {
      const options: RevelaLossOptions = {
        temperature: o.temperature,
        implementation,
        topK: Math.min(o.topK, b - 1),
        valueNorm: true,
        dualLoss: false,
      };
      const step = () => {
        const t0 = performance.now();
        const { value, grads } = frugalVariableGrads(() => revelaLoss(retriever, o.lm, batch, options).loss, vars);
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
      const stepMs = median(times);
      const heap = (tf.backend() as unknown as { wasm?: { HEAP8: Int8Array } }).wasm?.HEAP8;
      const result: RevelaStepBenchmarkResult = {
        implementation,
        medianStepMs: stepMs,
        tokensPerSecond: (b * l * 1000) / stepMs,
        wasmHeapMiB: heap ? Math.round(heap.length / 2 ** 20) : null,
        rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      };
      if (o.breakdown) {
        const runs = Math.min(o.steps, 3);
        const retrieverMs = timeMedian(
          () =>
            tf.tidy(() => {
              sync(retriever.embed(batch.queryIds, batch.queryMask));
              sync(retriever.embed(batch.passageIds, batch.passageMask));
            }),
          runs,
        );
        const pass1Ms = timeMedian(
          () => tf.tidy(() => sync(o.lm.keyValues(ids, mask).values.at(-1) as tf.Tensor)),
          runs,
        );
        const pass2WithoutTermMs = timeMedian(
          () =>
            tf.tidy(() => sync(o.lm.forward(ids, mask, { computeLoss: true, returnLogits: false }).loss as tf.Scalar)),
          runs,
        );
        const weights = tf.tidy(() =>
          documentWeights(
            retriever.embed(batch.queryIds, batch.queryMask),
            retriever.embed(batch.passageIds, batch.passageMask),
            { temperature: o.temperature },
          ),
        );
        const lmLossMs = timeMedian(() => tf.tidy(() => sync(revelaLmLoss(o.lm, batch, weights, options).loss)), runs);
        weights.dispose();
        const optimizerMs = timeMedian(() => {
          const zeros = Object.fromEntries(vars.map((x) => [x.name, tf.zerosLike(x)]));
          optimizer.step(zeros);
          tf.dispose(Object.values(zeros));
          (vars[0] as tf.Variable).dataSync();
        }, runs);
        result.breakdown = {
          retrieverMs,
          pass1Ms,
          pass2WithoutTermMs,
          inBatchTermMs: lmLossMs - pass1Ms - pass2WithoutTermMs,
          backwardMs: stepMs - retrieverMs - lmLossMs - optimizerMs,
          optimizerMs,
        };
      }
      results.push(result);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([ids, mask, batch.queryIds, batch.queryMask]);
  }
  return results;
}
