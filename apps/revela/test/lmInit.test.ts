import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend } from "@revela/kernels";
import { writeCheckpointTensors } from "@revela/language-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveAppConfig } from "../src/pipeline/appConfig.js";
import { buildModels } from "../src/pipeline/models.js";

const SHIPPED = path.join(import.meta.dirname, "../data/scifact-reader-lm");

/** `--lm-init <dir>`: the from-scratch LM starts from pretrained weights with their own vocabulary. */

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "revela-lm-init-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const shape = { hiddenSize: 8, layers: 1, heads: 2, kvHeads: 1, ffn: 16, minTokenCount: 1 };
const pretrainingText = ["the zorvex protein binds kelmar", "kelmar binds the zorvex protein in cells"];

/** A "pretrained" LM folder: seed-7 weights and the compaction of `pretrainingText`. */
async function pretrainedDir(): Promise<{ dir: string; values: Map<string, Float32Array>; vocab: number }> {
  const dir = path.join(tmp, "reader");
  const source = await buildModels(resolveAppConfig({ values: { seed: 7, model: shape } }), pretrainingText);
  const values = new Map([...source.lm.params].map(([n, v]) => [n, v.dataSync() as Float32Array]));
  await writeCheckpointTensors(
    dir,
    new Map([...source.lm.params].map(([n, v]) => [n, { shape: v.shape, data: values.get(n)! }])),
  );
  await source.compaction!.save(dir);
  const vocab = source.tokenizer.vocabSize;
  source.lm.dispose();
  return { dir, values, vocab };
}

describe("model.lmInit", () => {
  it("loads every LM weight and the pretraining vocabulary, not one computed from the run's corpus", async () => {
    const { dir, values, vocab } = await pretrainedDir();
    const corpus = ["an entirely different corpus", "with other words and many more of them than before"];
    const fresh = await buildModels(resolveAppConfig({ values: { seed: 0, model: shape } }), corpus);
    expect(fresh.tokenizer.vocabSize).not.toBe(vocab);
    const models = await buildModels(
      resolveAppConfig({ values: { seed: 0, model: { ...shape, lmInit: dir } } }),
      corpus,
    );
    expect(models.tokenizer.vocabSize).toBe(vocab);
    for (const [name, v] of models.lm.params) expect(v.dataSync(), name).toEqual(values.get(name));
    // Without the init the same seed gives other weights: the test above is not passing by accident.
    const name = "model.layers.0.self_attn.q_proj.weight";
    expect(fresh.lm.params.get(name)!.dataSync()).not.toEqual(values.get(name));
    expect(models.description).toContain(`LM initialised from ${dir}`);
    fresh.lm.dispose();
    models.lm.dispose();
  });

  it("the shipped SciFact reader LM loads into the default model shape", async () => {
    const models = await buildModels(resolveAppConfig({ values: { model: { lmInit: SHIPPED } } }), []);
    expect(models.tokenizer.vocabSize).toBe(21761);
    const embed = models.lm.params.get("model.embed_tokens.weight")!;
    expect(embed.shape).toEqual([21761, 128]);
    // Pretrained, not an init: the HF init draws std 0.02, training moved the embeddings well past it.
    const values = embed.dataSync() as Float32Array;
    const rms = Math.sqrt(values.reduce((a, v) => a + v * v, 0) / values.length);
    expect(rms).toBeGreaterThan(0.03);
    models.lm.dispose();
  });

  it("refuses a folder of another shape, a missing file, and a second init", async () => {
    const { dir } = await pretrainedDir();
    const config = (model: Record<string, unknown>) => resolveAppConfig({ values: { model: { ...shape, ...model } } });
    await expect(buildModels(config({ lmInit: dir, hiddenSize: 16 }), [])).rejects.toThrow(
      /model\.lmInit \(--lm-init .*\): "model\.embed_tokens\.weight" is \[\d+, 8\], the LM's is \[\d+, 16\]/,
    );
    await expect(buildModels(config({ lmInit: dir, layers: 2 }), [])).rejects.toThrow(
      /has no tensor "model\.layers\.1\./,
    );
    await expect(buildModels(config({ lmInit: path.join(tmp, "nowhere") }), [])).rejects.toThrow(
      /nowhere\/model\.safetensors does not exist/,
    );
    await expect(buildModels(config({ lmInit: dir, copyAttention: 1 }), [])).rejects.toThrow(
      /model\.lmInit and model\.copyAttention/,
    );
  });
});
