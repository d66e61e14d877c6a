import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  enableLora,
  getArchitecture,
  listArchitectures,
  loadPretrained,
  parseLoraConfig,
  parseModelConfig,
  saveModel,
} from "../../src/index.js";
import { GOLDENS_BY_ARCHITECTURE, maxAbsDiff, readGoldens } from "../support/goldens.js";

/**
 * The conformance suite every registered architecture must pass (see CONTRIBUTING.md): config
 * round trip, golden values present, save/load round trip, LoRA targets, K/V shapes, the attention
 * extension point and backbone mode.
 */
beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "revela-lm-"));

it("every registered architecture has golden values", () => {
  for (const arch of listArchitectures()) {
    expect(GOLDENS_BY_ARCHITECTURE[arch], `${arch} has no goldens in test/support/goldens.ts`).toBeDefined();
    for (const name of GOLDENS_BY_ARCHITECTURE[arch] ?? []) {
      const { dir } = readGoldens(name);
      const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as { architectures: string[] };
      expect(config.architectures[0]).toBe(arch);
    }
  }
});

for (const arch of listArchitectures()) {
  const goldenName = GOLDENS_BY_ARCHITECTURE[arch]?.[0] ?? "missing";
  describe(`conformance: ${arch}`, () => {
    const { dir, goldens } = readGoldens(goldenName);
    const rawConfig = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    const inputs = () => ({
      ids: tf.tensor2d(goldens.input_ids, undefined, "int32"),
      mask: tf.tensor2d(goldens.attention_mask, undefined, "int32"),
    });

    it("parses its config.json and writes it back to the same configuration", () => {
      const config = parseModelConfig(rawConfig, "config.json");
      expect(config.architecture).toBe(arch);
      const again = parseModelConfig(getArchitecture(arch).toHfConfig(config), "written config");
      expect(again).toEqual(config);
    });

    it("saves and reloads bit-exactly", async () => {
      const model = await loadPretrained(dir);
      const out1 = tmp();
      const out2 = tmp();
      await saveModel(model, out1);
      const reloaded = await loadPretrained(out1);
      await saveModel(reloaded, out2);
      for (const [name, v] of model.params) {
        const a = new Uint32Array((v.dataSync() as Float32Array).buffer.slice(0));
        const b = new Uint32Array((reloaded.params.get(name)!.dataSync() as Float32Array).buffer.slice(0));
        expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), name).toBe(0);
      }
      for (const file of fs.readdirSync(out1)) {
        expect(fs.readFileSync(path.join(out2, file)).equals(fs.readFileSync(path.join(out1, file))), file).toBe(true);
      }
      // Sharded checkpoints load to the same parameters.
      const sharded = tmp();
      await saveModel(model, sharded, { maxShardBytes: 20_000 });
      expect(fs.existsSync(path.join(sharded, "model.safetensors.index.json"))).toBe(true);
      const fromShards = await loadPretrained(sharded);
      for (const [name, v] of model.params) {
        expect(maxAbsDiff(v.dataSync(), fromShards.params.get(name)!.dataSync()), name).toBe(0);
      }
      model.dispose();
      reloaded.dispose();
      fromShards.dispose();
    });

    it("puts LoRA on every target module it lists, and then trains only LoRA weights", async () => {
      const model = await loadPretrained(dir);
      const targets = getArchitecture(arch).loraTargets;
      const modules = enableLora(model, parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: [...targets] }));
      expect(modules).toHaveLength(targets.length * model.config.numHiddenLayers);
      const trainable = model.trainableVariables();
      expect(trainable).toHaveLength(2 * modules.length);
      const { ids, mask } = inputs();
      const { value, grads } = tf.variableGrads(
        () => model.forward(ids, mask, { computeLoss: true, returnLogits: false }).loss!,
      );
      const names = Object.keys(grads);
      expect(names.length).toBe(trainable.length);
      expect(names.every((n) => /lora_[AB]/.test(n))).toBe(true);
      tf.dispose([value, grads, ids, mask]);
      model.dispose();
    });

    it("returns every layer's keys and values as [B, Hkv, L, D]", async () => {
      const model = await loadPretrained(dir);
      const { ids, mask } = inputs();
      const out = model.forward(ids, mask, { returnKeyValues: true, returnHiddenStates: true });
      const c = model.config;
      const [b, l] = ids.shape;
      expect(out.keys).toHaveLength(c.numHiddenLayers);
      expect(out.values).toHaveLength(c.numHiddenLayers);
      for (const t of [...out.keys!, ...out.values!]) expect(t.shape).toEqual([b, c.numKeyValueHeads, l, c.headDim]);
      expect(out.hiddenStates).toHaveLength(c.numHiddenLayers + 1);
      model.dispose();
    });

    it("keyValues gives forward's keys and values, bit for bit", async () => {
      const model = await loadPretrained(dir);
      const { ids, mask } = inputs();
      const full = model.forward(ids, mask, { returnKeyValues: true });
      const only = model.keyValues(ids, mask);
      expect(only.keys).toHaveLength(model.config.numHiddenLayers);
      for (let i = 0; i < model.config.numHiddenLayers; i++) {
        expect(maxAbsDiff(only.keys[i]!.dataSync(), full.keys![i]!.dataSync())).toBe(0);
        expect(maxAbsDiff(only.values[i]!.dataSync(), full.values![i]!.dataSync())).toBe(0);
      }
      expect(() => model.keyValues(tf.zeros([2, 3]), mask)).toThrow(
        /CausalLM.keyValues: inputIds must be an int32 tensor/,
      );
      model.dispose();
    });

    it("computes the same loss and gradients without logits (only rows with a target reach the head)", async () => {
      const model = await loadPretrained(dir);
      const { ids, mask } = inputs();
      // Custom labels with holes (−100) besides the padding, so the row selection is exercised.
      const labelValues = (ids.arraySync() as number[][]).map((row, r) =>
        row.map((id, t) => ((goldens.attention_mask[r]?.[t] ?? 0) === 0 || (r + t) % 3 === 0 ? -100 : id)),
      );
      const labels = tf.tensor2d(labelValues, undefined, "int32");
      const vars = model.trainableVariables();
      const lossWith = (returnLogits: boolean) => () =>
        model.forward(ids, mask, { computeLoss: true, labels, returnLogits }).loss as tf.Scalar;
      const a = tf.variableGrads(lossWith(true), vars);
      const b = tf.variableGrads(lossWith(false), vars);
      expect(Math.abs(a.value.dataSync()[0]! - b.value.dataSync()[0]!)).toBeLessThan(1e-6);
      for (const [name, g] of Object.entries(a.grads)) {
        expect(maxAbsDiff(g.dataSync(), b.grads[name]!.dataSync()), name).toBeLessThan(1e-6);
      }
      model.dispose();
    });

    it("adds the attention extension point's term before the output projection", async () => {
      const model = await loadPretrained(dir);
      const { ids, mask } = inputs();
      const c = model.config;
      const seen: number[] = [];
      const base = model.forward(ids, mask).logits!;
      const zero = model.forward(ids, mask, {
        attentionTerm: ({ layer, queries }) => {
          seen.push(layer);
          expect(queries.shape).toEqual([ids.shape[0], c.numAttentionHeads, ids.shape[1], c.headDim]);
          return tf.zerosLike(queries);
        },
      }).logits!;
      expect(seen).toEqual([...Array(c.numHiddenLayers).keys()]);
      expect(maxAbsDiff(base.dataSync(), zero.dataSync())).toBe(0);
      const shifted = model.forward(ids, mask, {
        attentionTerm: ({ layer, queries }) => (layer === 1 ? tf.onesLike(queries) : null),
      }).logits!;
      expect(maxAbsDiff(base.dataSync(), shifted.dataSync())).toBeGreaterThan(1e-3);
      expect(() => model.forward(ids, mask, { attentionTerm: () => tf.zeros([1, 2, 3]) })).toThrow(
        /attentionTerm of layer 0 returned shape \[1, 2, 3\].*\[2, \d+, 7, \d+\]/,
      );
      model.dispose();
    });

    it("loads as a backbone without the LM head, with the same hidden states", async () => {
      const full = await loadPretrained(dir);
      const backbone = await loadPretrained(dir, { backbone: true });
      expect(backbone.params.has("lm_head.weight")).toBe(false);
      const { ids, mask } = inputs();
      const a = full.forward(ids, mask).lastHiddenState;
      const b = backbone.forward(ids, mask).lastHiddenState;
      expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
      expect(() => backbone.forward(ids, mask, { computeLoss: true })).toThrow(/backbone/);
      full.dispose();
      backbone.dispose();
    });
  });
}

it("keeps two LoRA models alive in one process (variable names never collide)", async () => {
  const { dir } = readGoldens("tiny-llama");
  const a = await loadPretrained(dir, { adapter: `${dir}/lora` });
  const b = await loadPretrained(dir, { adapter: `${dir}/lora` });
  expect(a.lora.size).toBe(b.lora.size);
  a.dispose();
  b.dispose();
});
