import { initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import { beforeAll, expect, it } from "vitest";
import { benchmarkRevelaStep } from "../../src/revela/revelaStepBenchmark.js";
import { tinyConfig } from "../support/tinyModels.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

const models = () => ({
  lm: CausalLM.create(tinyConfig(40), { seed: 1 }),
  retrieverModel: CausalLM.create(tinyConfig(40), { seed: 2, backbone: true }),
});

it("times full steps per implementation and splits a step into its pieces", async () => {
  const { lm, retrieverModel } = models();
  const before = lm.params.get("model.norm.weight")?.dataSync().slice();
  const steps: string[] = [];
  const results = await benchmarkRevelaStep({
    lm,
    retrieverModel,
    batchSize: 3,
    seqLen: 8,
    implementations: ["streaming", "topk"],
    steps: 2,
    topK: 1,
    temperature: 0.1,
    breakdown: true,
    onStep: (impl, step) => steps.push(`${impl}:${step}`),
  });
  expect(steps).toEqual(["streaming:1", "streaming:2", "topk:1", "topk:2"]);
  expect(results.map((r) => r.implementation)).toEqual(["streaming", "topk"]);
  for (const r of results) {
    expect(r.medianStepMs).toBeGreaterThan(0);
    expect(r.tokensPerSecond).toBeCloseTo((3 * 8 * 1000) / r.medianStepMs, 6);
    expect(r.wasmHeapMiB).toBeGreaterThan(0);
    const b = r.breakdown;
    expect(b).toBeDefined();
    for (const ms of [b?.retrieverMs, b?.pass1Ms, b?.pass2WithoutTermMs, b?.optimizerMs]) expect(ms).toBeGreaterThan(0);
    // The pieces and the remainder (backward) add up to the step by construction.
    const sum = (b?.retrieverMs ?? 0) + (b?.pass1Ms ?? 0) + (b?.pass2WithoutTermMs ?? 0) + (b?.inBatchTermMs ?? 0);
    expect(sum + (b?.backwardMs ?? 0) + (b?.optimizerMs ?? 0)).toBeCloseTo(r.medianStepMs, 6);
  }
  // The steps trained the models (AdamW moved the weights).
  expect(Array.from(lm.params.get("model.norm.weight")?.dataSync() ?? [])).not.toEqual(Array.from(before ?? []));
  lm.dispose();
  retrieverModel.dispose();
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
  lm.dispose();
  retrieverModel.dispose();
});
