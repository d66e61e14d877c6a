import { PerformanceObserver } from "node:perf_hooks";
import { frugalVariableGrads } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../src/data/types.js";
import { type BatchTokenizers, buildRevelaBatch, disposeRevelaBatch } from "../src/revela/revelaBatch.js";
import { type RevelaLossOptions, revelaLoss } from "../src/revela/revelaLoss.js";
import { RevelaTrainer } from "../src/revela/revelaTrainer.js";
import { namedTrainables } from "../src/run/namedTrainables.js";

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
  onStep?: (implementation: StepImplementation, sample: StepSample) => void;
}

/** One timed `RevelaTrainer.step` and what might explain its time. */
export interface StepSample {
  /** 1-based. */
  step: number;
  ms: number;
  /** (i, j) pairs the in-batch term computes per layer: W_ij ≠ 0 for `streaming`, B·k for `topk`, B² for `dense`. */
  pairs: number;
  /** W_ij ≠ 0 off the diagonal, of B·(B − 1) (W of the batch just before the step, no dropout). */
  nonZeroWeights: number;
  /** Growth of the wasm heap during the step (it never shrinks); null off wasm. */
  heapGrowthMiB: number | null;
  /** CPU time of this process (all its threads) during the step: steady while `ms` swings = the machine is shared. */
  cpuMs: number;
  /** Time Node's garbage collector reported during the step. */
  gcMs: number;
  /** tf.memory().numTensors after the step minus before (0: the step leaks nothing). */
  tensorsLeaked: number;
  loss: number;
}

export interface RevelaStepBenchmarkResult {
  implementation: StepImplementation;
  samples: StepSample[];
  minStepMs: number;
  medianStepMs: number;
  maxStepMs: number;
  tokensPerSecond: number;
  /** wasm heap after the steps (it only grows: the peak a step needed); null off wasm. */
  wasmHeapMiB: number | null;
  rssMiB: number;
}

/** Per kernel name over one profiled pass: calls, milliseconds, matmul GFLOP (from the kernels' shapes). */
export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
  gflop: number;
  /**
   * Matrix products: a matmul whose right operand has a batch runs one product (on wasm, one XNNPACK
   * call, each a multi-threaded dispatch) per batch item.
   */
  products: number;
}

export interface RevelaStepProfile {
  /** The loss alone (both models' forward passes, in-batch term included). */
  forward: KernelRow[];
  /** Loss and gradients (frugalVariableGrads, as the step runs them), no optimizer. */
  forwardBackward: KernelRow[];
  /** forwardBackward − forward per kernel: the backward pass. */
  backward: KernelRow[];
}

export const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Token ids for synthetic chunk texts: each text `chunk <n>` reads as seqLen pseudo-random ids. */
function syntheticTokenizers(vocab: number, seqLen: number): BatchTokenizers {
  const ids = (text: string) => {
    let x = (Number(text.slice(6)) + 1) * 2654435761;
    return Array.from({ length: seqLen }, () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return 2 + (x % (vocab - 2));
    });
  };
  return {
    lmEncode: ids,
    lmEosTokenId: 1,
    lmPadTokenId: 0,
    // The query view is the first half, as the official collator's "first half" makes it.
    retrieverTokenize: (text, _kind, options) => (options?.queryView ? ids(text).slice(0, seqLen >> 1) : ids(text)),
    retrieverPadTokenId: 0,
  };
}

function syntheticBatch(b: number): Batch {
  return {
    chunks: Array.from({ length: b }, (_, n) => ({ id: `d${n}#0`, docId: `d${n}`, index: 0, text: `chunk ${n}` })),
    epoch: 0,
    index: 0,
  };
}

function checkOptions(o: RevelaStepBenchmarkOptions, op: string): void {
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
}

function lossOptions(o: RevelaStepBenchmarkOptions, implementation: StepImplementation): RevelaLossOptions {
  return {
    temperature: o.temperature,
    implementation,
    topK: Math.min(o.topK, o.batchSize - 1),
    valueNorm: true,
    dualLoss: false,
  };
}

function makeTrainer(o: RevelaStepBenchmarkOptions, implementation: StepImplementation): RevelaTrainer {
  return new RevelaTrainer({
    retriever: new DenseEncoder(o.retrieverModel, null, { maxLength: o.seqLen }),
    retrieverModel: o.retrieverModel,
    lm: o.lm,
    tokenizers: syntheticTokenizers(o.lm.config.vocabSize, o.seqLen),
    loss: lossOptions(o, implementation),
    maxLmTokens: o.seqLen,
    retrieverLr: 1e-5,
    lmLr: 1e-5,
    weightDecay: 0,
    maxGradNorm: 1,
    freezeLm: false,
  });
}

const wasmHeapBytes = (): number | null =>
  (tf.backend() as unknown as { wasm?: { HEAP8: Int8Array } }).wasm?.HEAP8.length ?? null;

/** Milliseconds Node's GC reported between two performance.now() times (entries arrive after a tick). */
class GcClock {
  private readonly entries: { start: number; ms: number }[] = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.entries.push({ start: e.startTime, ms: e.duration });
  });
  constructor() {
    this.observer.observe({ entryTypes: ["gc"] });
  }
  async between(t0: number, t1: number): Promise<number> {
    await new Promise((resolve) => setImmediate(resolve));
    return this.entries.filter((e) => e.start >= t0 && e.start < t1).reduce((s, e) => s + e.ms, 0);
  }
  stop(): void {
    this.observer.disconnect();
  }
}

/**
 * Full Revela training steps — `RevelaTrainer.step` itself: the retriever on query and passage views,
 * both LM passes with the in-batch term, backward, clipping, AdamW on every weight of both models —
 * on synthetic token ids (their content does not change a step's cost; W does, and is reported), per
 * in-batch implementation, each step timed and described. The benchmark behind `pnpm bench` in
 * @revela/trainer and `revela bench`.
 */
export async function benchmarkRevelaStep(o: RevelaStepBenchmarkOptions): Promise<RevelaStepBenchmarkResult[]> {
  checkOptions(o, "benchmarkRevelaStep");
  const b = o.batchSize;
  const batch = syntheticBatch(b);
  const gc = new GcClock();
  const results: RevelaStepBenchmarkResult[] = [];
  try {
    for (const implementation of o.implementations) {
      const trainer = makeTrainer(o, implementation);
      try {
        const sample = async (step: number): Promise<StepSample> => {
          const w = trainer.weightsFor(batch).weights;
          let nonZero = 0;
          for (let n = 0; n < w.length; n++) if (w[n] !== 0 && n % (b + 1) !== 0) nonZero++;
          const pairs =
            implementation === "streaming" ? nonZero : implementation === "topk" ? b * Math.min(o.topK, b - 1) : b * b;
          const heap0 = wasmHeapBytes();
          const tensors0 = tf.memory().numTensors;
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          const metrics = await trainer.step(batch);
          const t1 = performance.now();
          const cpu = process.cpuUsage(cpu0);
          const heap1 = wasmHeapBytes();
          return {
            step,
            ms: t1 - t0,
            cpuMs: (cpu.user + cpu.system) / 1000,
            pairs,
            nonZeroWeights: nonZero,
            heapGrowthMiB: heap0 === null || heap1 === null ? null : (heap1 - heap0) / 2 ** 20,
            gcMs: await gc.between(t0, t1),
            tensorsLeaked: tf.memory().numTensors - tensors0,
            loss: metrics.loss,
          };
        };
        await sample(0); // warm-up: kernels set up, heap grown to what a step needs
        const samples: StepSample[] = [];
        for (let s = 1; s <= o.steps; s++) {
          const x = await sample(s);
          samples.push(x);
          o.onStep?.(implementation, x);
        }
        const ms = samples.map((x) => x.ms);
        const heap = wasmHeapBytes();
        results.push({
          implementation,
          samples,
          minStepMs: Math.min(...ms),
          medianStepMs: median(ms),
          maxStepMs: Math.max(...ms),
          tokensPerSecond: (b * o.seqLen * 1000) / median(ms),
          wasmHeapMiB: heap === null ? null : Math.round(heap / 2 ** 20),
          rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
        });
      } finally {
        trainer.dispose();
      }
    }
  } finally {
    gc.stop();
  }
  return results;
}

/** GFLOP of a matmul kernel from its shapes: 2·(output elements)·(contracted length). */
function matMulGflop(inputShapes: number[][], outputShape: number[]): number {
  const a = inputShapes[0] as number[];
  const m = outputShape[outputShape.length - 2] as number;
  // a is [..., M, K], or [..., K, M] when transposed.
  const k = (a[a.length - 2] === m ? a[a.length - 1] : a[a.length - 2]) as number;
  return (2 * outputShape.reduce((p, s) => p * s, 1) * k) / 1e9;
}

/**
 * Per kernel, what `f` ran under tf.profile: calls, milliseconds and matmul GFLOP, slowest first.
 * Kernels are split by input shapes (`BatchMatMul [64,256,32]×[64,128,32]`, `Sum [2048,256]`) with `byShape`. Scopes
 * (tf.customGrad's "unnamed scope") are left out: their time includes the kernels they ran, which are
 * counted on their own.
 */
export async function profileKernels(f: () => void, byShape = false): Promise<KernelRow[]> {
  const profile = await tf.profile(f);
  const rows = new Map<string, KernelRow>();
  for (const k of profile.kernels) {
    if (k.name === "unnamed scope") continue;
    const matmul = /MatMul/.test(k.name);
    const shapes = (k.inputShapes as number[][]).slice(0, 2).map((s) => `[${s.join(",")}]`);
    const name = byShape ? `${k.name} ${shapes.join("×")}` : k.name;
    const row = rows.get(name) ?? { kernel: name, calls: 0, ms: 0, gflop: 0, products: 0 };
    row.calls++;
    row.ms += k.kernelTimeMs as number;
    if (matmul) {
      row.gflop += matMulGflop(k.inputShapes as number[][], k.outputShapes[0] as number[]);
      const right = (k.inputShapes as number[][])[1] as number[];
      row.products += right.slice(0, -2).reduce((p, x) => p * x, 1);
    }
    rows.set(name, row);
  }
  return [...rows.values()].sort((x, y) => y.ms - x.ms);
}

/** Rows split by matmul shapes summed back per kernel name, slowest first. */
export function byKernelName(rows: KernelRow[]): KernelRow[] {
  const out = new Map<string, KernelRow>();
  for (const r of rows) {
    const kernel = r.kernel.split(" ")[0] as string;
    const o = out.get(kernel) ?? { kernel, calls: 0, ms: 0, gflop: 0, products: 0 };
    o.calls += r.calls;
    o.ms += r.ms;
    o.gflop += r.gflop;
    o.products += r.products;
    out.set(kernel, o);
  }
  return [...out.values()].sort((x, y) => y.ms - x.ms);
}

function subtract(all: KernelRow[], part: KernelRow[]): KernelRow[] {
  const byName = new Map(part.map((r) => [r.kernel, r]));
  return all
    .map((r) => {
      const f = byName.get(r.kernel);
      return {
        kernel: r.kernel,
        calls: r.calls - (f?.calls ?? 0),
        ms: r.ms - (f?.ms ?? 0),
        gflop: r.gflop - (f?.gflop ?? 0),
        products: r.products - (f?.products ?? 0),
      };
    })
    .filter((r) => r.calls > 0)
    .sort((x, y) => y.ms - x.ms);
}

/**
 * One step's loss and gradients under tf.profile, per kernel: the forward pass alone, then forward +
 * backward as the step computes them; their difference is the backward pass. Profiling times each
 * kernel on its own (and slows the pass); the shares, not the sums, are the point.
 */
export async function profileRevelaStep(
  o: Omit<RevelaStepBenchmarkOptions, "implementations" | "steps" | "onStep">,
  implementation: StepImplementation,
): Promise<RevelaStepProfile> {
  checkOptions({ ...o, implementations: [implementation], steps: 1 }, "profileRevelaStep");
  const options = lossOptions({ ...o, implementations: [implementation], steps: 1 }, implementation);
  const retriever = new DenseEncoder(o.retrieverModel, null, { maxLength: o.seqLen });
  const texts = syntheticBatch(o.batchSize).chunks.map((c) => c.text);
  const tensors = buildRevelaBatch(texts, syntheticTokenizers(o.lm.config.vocabSize, o.seqLen), o.seqLen);
  const vars = [
    ...Object.values(namedTrainables("retriever", o.retrieverModel)),
    ...Object.values(namedTrainables("lm", o.lm)),
  ];
  const loss = () => revelaLoss(retriever, o.lm, tensors, options).loss;
  const check = tf.env().getBool("CHECK_COMPUTATION_FOR_ERRORS");
  // Off: it would read every kernel's output back for a NaN check.
  tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", false);
  try {
    const run = {
      forward: () => tf.tidy(() => void loss().dataSync()),
      forwardBackward: () => {
        const { value, grads } = frugalVariableGrads(loss, vars);
        value.dataSync();
        tf.dispose([value, grads]);
      },
    };
    run.forwardBackward(); // warm-up outside the profile
    const forward = await profileKernels(run.forward, true);
    const forwardBackward = await profileKernels(run.forwardBackward, true);
    return { forward, forwardBackward, backward: subtract(forwardBackward, forward) };
  } finally {
    tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", check);
    disposeRevelaBatch(tensors);
  }
}

/**
 * Microseconds per product of `items` tiny [8, 8] × [8, 8] products in one batched matmul: on wasm
 * each is an XNNPACK call with its own multi-threaded dispatch, so this is the dispatch latency. It
 * is a few µs on an idle machine and grows by orders of magnitude when other processes hold the
 * cores (the wasm threads wait to be scheduled); steps made of many small products slow down with it.
 */
export function measureDispatchMicros(items: number, runs: number): number {
  return (medianMatMulMs([items, 8, 8], runs) * 1000) / items;
}

/** GFLOP/s of one plain [n, n] × [n, n] product on the active backend (median of `runs`). */
export function measureSgemm(n: number, runs: number): number {
  return (2 * n ** 3) / (medianMatMulMs([n, n], runs) * 1e6);
}

/** Median milliseconds of a product of two random tensors of `shape`, read back, after one warm-up product. */
function medianMatMulMs(shape: number[], runs: number): number {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`medianMatMulMs: runs must be an integer ≥ 1, got ${runs}`);
  const a = tf.randomNormal(shape, 0, 1, "float32", 1);
  const c = tf.randomNormal(shape, 0, 1, "float32", 2);
  const once = () => {
    const t0 = performance.now();
    const out = tf.matMul(a, c);
    out.dataSync();
    out.dispose();
    return performance.now() - t0;
  };
  try {
    once();
    return median(Array.from({ length: runs }, once));
  } finally {
    tf.dispose([a, c]);
  }
}
