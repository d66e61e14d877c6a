import { initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, it } from "vitest";
import {
  benchmarkRevelaStep,
  measureDispatchMicros,
  measureSgemm,
  profileKernels,
  profileRevelaStep,
  type StepSample,
} from "../../bench/revelaStepBenchmark.js";
import { tinyConfig } from "../support/tinyModels.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

const models = () => ({
  lm: CausalLM.create(tinyConfig(40), { seed: 1 }),
  retrieverModel: CausalLM.create(tinyConfig(40), { seed: 2, backbone: true }),
});

it("runs RevelaTrainer.step per implementation and describes every step", async () => {
  const { lm, retrieverModel } = models();
  const lmBefore = lm.params.get("model.norm.weight")?.dataSync().slice();
  const retrieverBefore = retrieverModel.params.get("model.norm.weight")?.dataSync().slice();
  const seen: string[] = [];
  const results = await benchmarkRevelaStep({
    lm,
    retrieverModel,
    batchSize: 4,
    seqLen: 8,
    implementations: ["streaming", "topk"],
    steps: 2,
    topK: 2,
    // τ = 1: W has no zeros off the diagonal, so streaming computes every pair.
    temperature: 1,
    onStep: (impl, s: StepSample) => seen.push(`${impl}:${s.step}`),
  });
  expect(seen).toEqual(["streaming:1", "streaming:2", "topk:1", "topk:2"]);
  expect(results.map((r) => r.implementation)).toEqual(["streaming", "topk"]);
  for (const r of results) {
    expect(r.samples).toHaveLength(2);
    expect(r.minStepMs).toBeLessThanOrEqual(r.medianStepMs);
    expect(r.medianStepMs).toBeLessThanOrEqual(r.maxStepMs);
    expect(r.wasmHeapMiB).toBeGreaterThan(0);
    for (const s of r.samples) {
      expect(s.nonZeroWeights).toBe(12); // 4 × 3 off the diagonal
      expect(s.pairs).toBe(r.implementation === "streaming" ? 12 : 8);
      expect(s.tensorsLeaked).toBe(0);
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(s.heapGrowthMiB).toBeGreaterThanOrEqual(0);
    }
  }
  // The real step trained both models (AdamW moved their weights).
  expect(Array.from(lm.params.get("model.norm.weight")?.dataSync() ?? [])).not.toEqual(Array.from(lmBefore ?? []));
  expect(Array.from(retrieverModel.params.get("model.norm.weight")?.dataSync() ?? [])).not.toEqual(
    Array.from(retrieverBefore ?? []),
  );
  lm.dispose();
  retrieverModel.dispose();
});

it("counts the pairs streaming computes from W's zeros (τ = 1e-4: about one per row)", async () => {
  const { lm, retrieverModel } = models();
  const [r] = await benchmarkRevelaStep({
    lm,
    retrieverModel,
    batchSize: 6,
    seqLen: 8,
    implementations: ["streaming"],
    steps: 1,
    topK: 1,
    temperature: 1e-4,
  });
  const s = r?.samples[0] as StepSample;
  expect(s.pairs).toBe(s.nonZeroWeights);
  expect(s.pairs).toBeGreaterThanOrEqual(6); // every row has its largest weight
  expect(s.pairs).toBeLessThan(30);
  lm.dispose();
  retrieverModel.dispose();
});

it("profiles kernels with matmul GFLOP from their shapes, transposed or not", async () => {
  const a = tf.ones([2, 3, 4]);
  const b = tf.ones([2, 4, 5]);
  const bt = tf.ones([2, 5, 4]);
  const at = tf.ones([2, 4, 3]);
  const rows = await profileKernels(() => {
    tf.dispose([tf.matMul(a, b), tf.matMul(a, bt, false, true), tf.matMul(at, b, true, false)]);
  });
  const matmul = rows.find((r) => r.kernel === "BatchMatMul");
  expect(matmul?.calls).toBe(3);
  expect(matmul?.gflop).toBeCloseTo((3 * 2 * 2 * 3 * 4 * 5) / 1e9, 15);
  expect(matmul?.products).toBe(6); // a batch of 2, three times
  tf.dispose([a, b, bt, at]);
});

it("splits one step's profile into forward and backward", async () => {
  const { lm, retrieverModel } = models();
  const o = { lm, retrieverModel, batchSize: 3, seqLen: 8, topK: 1, temperature: 0.1 };
  const p = await profileRevelaStep(o, "streaming");
  const gflop = (rows: { gflop: number }[]) => rows.reduce((s, r) => s + r.gflop, 0);
  const calls = (rows: { calls: number }[]) => rows.reduce((s, r) => s + r.calls, 0);
  expect(calls(p.forward) + calls(p.backward)).toBe(calls(p.forwardBackward));
  expect(gflop(p.forward)).toBeGreaterThan(0);
  // Backward multiplies about twice the forward's matmuls (dX and dW per product), more with recomputation.
  expect(gflop(p.backward) / gflop(p.forward)).toBeGreaterThan(1.2);
  expect(gflop(p.backward) / gflop(p.forward)).toBeLessThan(4);
  expect(p.backward.every((r) => r.calls > 0)).toBe(true);
  lm.dispose();
  retrieverModel.dispose();
});

it("measures sgemm and the dispatch cost of small products", () => {
  for (const x of [measureSgemm(64, 3), measureDispatchMicros(16, 3)]) {
    expect(x).toBeGreaterThan(0);
    expect(Number.isFinite(x)).toBe(true);
  }
});

it("names bad options", async () => {
  const { lm, retrieverModel } = models();
  const base = {
    lm,
    retrieverModel,
    batchSize: 3,
    seqLen: 8,
    implementations: ["streaming" as const],
    steps: 1,
    topK: 1,
    temperature: 0.1,
  };
  await expect(benchmarkRevelaStep({ ...base, batchSize: 1 })).rejects.toThrow(/batchSize must be an integer ≥ 2/);
  await expect(benchmarkRevelaStep({ ...base, seqLen: 65 })).rejects.toThrow(
    /seqLen 65 exceeds max_position_embeddings \(64\)/,
  );
  await expect(benchmarkRevelaStep({ ...base, implementations: [] })).rejects.toThrow(/at least one/);
  await expect(benchmarkRevelaStep({ ...base, retrieverModel: lm })).rejects.toThrow(/separate models/);
  await expect(benchmarkRevelaStep({ ...base, steps: 0 })).rejects.toThrow(/steps must be an integer ≥ 1, got 0/);
  await expect(profileRevelaStep({ ...base, batchSize: 1 }, "topk")).rejects.toThrow(/profileRevelaStep: batchSize/);
  lm.dispose();
  retrieverModel.dispose();
});
