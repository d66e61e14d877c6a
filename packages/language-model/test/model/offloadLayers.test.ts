import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { frugalVariableGrads, initBackend, resetWasmTensorPeak, wasmTensorBytes } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CausalLM,
  enableLora,
  hostWeightBytes,
  isInJsMemory,
  loadLoraAdapter,
  loadPretrained,
  mergeLora,
  parseLoraConfig,
  saveLoraAdapter,
  saveModel,
} from "../../src/index.js";

/**
 * Frozen decoder layers kept in JavaScript memory (loadPretrained's `offloadLayers`): a LoRA model
 * loaded that way computes the loss and the adapters' gradients of the same model loaded resident,
 * and its layer weights are tensors only while a piece of their layer runs.
 */

const llama = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 60,
  hidden_size: 32,
  intermediate_size: 80,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
};
const qwen = { ...llama, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", tie_word_embeddings: true };
const lora = parseLoraConfig(
  {
    r: 4,
    lora_alpha: 8,
    lora_dropout: 0.2,
    target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
  },
  "test",
);

let tmp = "";
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "offload-layers-"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A random checkpoint directory of `config` (float32, as CausalLM.create makes it). */
async function randomCheckpoint(name: string, config: Record<string, unknown>, seed: number): Promise<string> {
  const dir = path.join(tmp, name);
  const model = CausalLM.create(config, { seed });
  await saveModel(model, dir);
  model.dispose();
  return dir;
}

function batch(b: number, l: number, vocab: number) {
  return {
    ids: tf.tensor2d(
      Int32Array.from({ length: b * l }, (_, i) => (i * 31 + 7) % vocab),
      [b, l],
      "int32",
    ),
    mask: tf.tensor2d(
      Int32Array.from({ length: b * l }, (_, i) => (i % l < l - (i % 3) ? 1 : 0)),
      [b, l],
      "int32",
    ),
  };
}

/** LoRA B starts at zero; a random B makes every adapter matter, as after training. */
function perturbAdapters(model: CausalLM, seed: number): void {
  let i = 0;
  for (const a of model.lora.values()) {
    tf.tidy(() => a.b.assign(tf.randomNormal(a.b.shape, 0, 0.05, "float32", seed + i++)));
  }
}

/** Bytes of the layer weights CausalLM holds as tensors (what offloading moves out). */
function layerBytes(model: CausalLM): number {
  return [...model.params].filter(([n]) => n.startsWith("model.layers.")).reduce((s, [, v]) => s + 4 * v.size, 0);
}

/**
 * A Revela-like step: pass 1's keys and values feed pass 2's attention term (as the in-batch term
 * does), through the LM and a retriever sharing its base; loss = pass 2's next-token loss + the
 * retriever's mean squared state. `atAttention` is called at every layer's attention in pass 2,
 * between the layer's two pieces (after its q/k/v projections, before its output projection and MLP).
 */
function revelaLikeLoss(
  lm: CausalLM,
  retriever: CausalLM,
  ids: tf.Tensor,
  mask: tf.Tensor,
  recompute: boolean,
  atAttention: () => void = () => {},
) {
  return (): tf.Scalar => {
    const pass1 = lm.keyValues(ids, mask, { training: { dropoutSeed: 5 } });
    const out = lm.forward(ids, mask, {
      computeLoss: true,
      returnLogits: false,
      recompute,
      training: { dropoutSeed: 9 },
      attentionTerm: ({ layer, queries }) => {
        atAttention();
        const k = pass1.keys[layer] as tf.Tensor4D;
        const rep = queries.shape[1] / k.shape[1];
        return tf.mul(tf.mul(queries, tf.mean(rep > 1 ? tf.tile(k, [1, rep, 1, 1]) : k, 2, true)), 0.3);
      },
    });
    const states = retriever.forward(ids, mask, { recompute, training: { dropoutSeed: 13 } }).lastHiddenState;
    return tf.add(out.loss as tf.Scalar, tf.mean(tf.square(states))) as tf.Scalar;
  };
}

async function loraPair(
  dir: string,
  offloadLayers: boolean,
  recompute: boolean,
): Promise<{ lm: CausalLM; retriever: CausalLM }> {
  const lm = await loadPretrained(dir, { offloadLayers });
  // Pass 1 (keyValues) follows the model's setting.
  lm.recomputeLayers = recompute;
  enableLora(lm, lora, { seed: 4 });
  perturbAdapters(lm, 100);
  const retriever = CausalLM.withFrozenBase(lm, { backbone: true });
  enableLora(retriever, lora, { seed: 6 });
  perturbAdapters(retriever, 200);
  return { lm, retriever };
}

describe("offloadLayers: frozen decoder layers in JavaScript memory", () => {
  for (const [name, config] of [
    ["LLaMA", llama],
    ["Qwen2 (q/k/v biases, tied head)", qwen],
  ] as const) {
    for (const recompute of [true, false]) {
      it(`${name}: the loss and LoRA gradients of the resident model ${recompute ? "recomputing each layer" : "keeping activations"}`, async () => {
        const dir = await randomCheckpoint(`${config.model_type}-${recompute}`, config, 3);
        const { ids, mask } = batch(2, 7, config.vocab_size);
        const run = async (offload: boolean) => {
          // An offloaded model records gradients only with recomputation (see the refusal below).
          const { lm, retriever } = await loraPair(dir, offload, offload || recompute);
          expect(lm.offloaded.size > 0).toBe(offload);
          const vars = [...lm.trainableVariables(), ...retriever.trainableVariables()];
          // The two models' adapters have the same module names: tell them apart.
          const names = vars.map(
            (v, i) => `${i < lm.lora.size * 2 ? "lm" : "retriever"}/${v.name.replace(/#\d+$/, "")}`,
          );
          const { value, grads } = frugalVariableGrads(
            revelaLikeLoss(lm, retriever, ids, mask, offload || recompute),
            vars,
          );
          const loss = value.dataSync()[0] as number;
          const byName = new Map(vars.map((v, i) => [names[i] as string, grads[v.name]!.dataSync().slice()]));
          tf.dispose([value, grads]);
          retriever.dispose();
          lm.dispose();
          return { loss, byName };
        };
        const resident = await run(false);
        const offloaded = await run(true);
        // Exactly equal: the offloaded weights become the same float32 values the resident model holds,
        // and both run the same ops in the same order (recomputation reruns the identical forward
        // pieces, and backward sums the same gradients), so nothing differs down to the bit.
        expect(offloaded.loss).toBe(resident.loss);
        expect([...offloaded.byName.keys()].sort()).toEqual([...resident.byName.keys()].sort());
        // Both LoRA models' adapters: the LM's (through pass 1 and pass 2) and the retriever's.
        expect(offloaded.byName.size).toBe(2 * 2 * 7 * config.num_hidden_layers);
        for (const [n, ref] of resident.byName) expect(offloaded.byName.get(n), n).toEqual(ref);
        tf.dispose([ids, mask]);
      });
    }
  }

  it("a BF16 checkpoint stays BF16 in JavaScript memory, computes what the resident model computes and saves back bit for bit, also from a model on its base (withFrozenBase)", async () => {
    const golden = path.join(import.meta.dirname, "../goldens/tiny-llama-bf16");
    const resident = await loadPretrained(golden);
    const offloaded = await loadPretrained(golden, { offloadLayers: true });
    const layerParams = [...resident.params].filter(([n]) => n.startsWith("model.layers.")).map(([n]) => n);
    expect([...offloaded.offloaded.keys()].sort()).toEqual(layerParams.sort());
    for (const w of offloaded.offloaded.values()) {
      expect(w.dtype).toBe("BF16");
      expect(hostWeightBytes(w)).toBe(2 * w.shape.reduce((a, b) => a * b, 1));
    }
    const { ids, mask } = batch(2, 5, resident.config.vocabSize);
    const logits = (m: CausalLM) => tf.tidy(() => Array.from(m.forward(ids, mask).logits!.dataSync()));
    expect(logits(offloaded)).toEqual(logits(resident));
    const saved = async (m: CausalLM, name: string) => {
      await saveModel(m, path.join(tmp, name));
      return fs.readFileSync(path.join(tmp, name, "model.safetensors"));
    };
    expect(await saved(offloaded, "bf16-offloaded")).toEqual(await saved(resident, "bf16-resident"));
    // A model on the offloaded base (what saveRetriever saves) keeps every weight's dtype too.
    const shared = CausalLM.withFrozenBase(offloaded);
    expect(await saved(shared, "bf16-shared-offloaded")).toEqual(await saved(resident, "bf16-resident"));
    shared.dispose();
    tf.dispose([ids, mask]);
    resident.dispose();
    offloaded.dispose();
  });

  it("loading a BF16 checkpoint with offloadLayers makes no float32 copy of the layers: the load's JavaScript peak is about the BF16 layers", async () => {
    // Layers of 7.9 M parameters (31.5 MB as float32, 15.7 MB as BF16) against a 60-token vocabulary.
    const config = { ...llama, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 8 };
    const dir = path.join(tmp, "bf16-load-peak");
    const source = CausalLM.create(config, { seed: 17 });
    for (const spec of source.parameterSpecs()) source.sourceDtypes.set(spec.name, "BF16");
    await saveModel(source, dir);
    source.dispose();

    // The garbage of making the checkpoint (the source model's float32 arrays) collected first: a
    // collection during the load would otherwise lower the figure below what the load holds.
    // Twice, with an event-loop turn between: backing stores of collected buffers are released after
    // the collection that finds them, and one freed mid-load made every sample negative (peak 0).
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    // Sampled whenever the event loop turns, i.e. between the loader's reads, as growth above the lowest
    // figure seen so far: a buffer of an earlier test released during the load (CI, loaded machine)
    // lowers the baseline instead of hiding the load's own growth.
    let low = process.memoryUsage().arrayBuffers;
    let peak = 0;
    let sampling = true;
    const measure = () => {
      const now = process.memoryUsage().arrayBuffers;
      low = Math.min(low, now);
      peak = Math.max(peak, now - low);
    };
    const sample = () => {
      measure();
      if (sampling) setImmediate(sample);
    };
    sample();
    const model = await loadPretrained(dir, { offloadLayers: true });
    // The loaded model still holds its BF16 layers here.
    measure();
    sampling = false;
    const layersBf16 = [...model.offloaded.values()].reduce((s, w) => s + hostWeightBytes(w), 0);
    // Per layer: q, o 256²; k, v 128 × 256; gate, up, down 256 × 1024; two norms of 256.
    expect(layersBf16).toBe(2 * 8 * (2 * 256 * 256 + 2 * 128 * 256 + 3 * 256 * 1024 + 2 * 256));
    // Reading the whole checkpoint as float32 first held twice this before the BF16 copy was made.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(1.25 * layersBf16);
    model.dispose();
  });

  it("layer weights are tensors only while their layer runs: a training step holds one layer's at a time and leaves none behind", async () => {
    const config = { ...llama, hidden_size: 64, intermediate_size: 256, num_hidden_layers: 6 };
    const dir = await randomCheckpoint("memory", config, 7);
    const resident = await loadPretrained(dir);
    const allLayers = layerBytes(resident);
    const oneLayer = allLayers / config.num_hidden_layers;
    resident.dispose();

    const start = tf.memory();
    const { lm, retriever } = await loraPair(dir, true, true);
    // Loaded: the embeddings, the final norm and the head are tensors; the layers are not.
    const adapterBytes = [lm, retriever].reduce(
      (s, m) => s + [...m.lora.values()].reduce((t, a) => t + 4 * (a.a.size + a.b.size), 0),
      0,
    );
    const residentBytes = [...lm.params.values()].reduce((s, v) => s + 4 * v.size, 0);
    expect(layerBytes(lm)).toBe(0);
    expect(tf.memory().numBytes - start.numBytes).toBe(residentBytes + adapterBytes);
    const offloadedBytes = [...lm.offloaded.values()].reduce((s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    expect(offloadedBytes).toBe(allLayers);

    // One token: the activations are tiny beside a layer's weights, so what is live inside pass 2
    // shows whether earlier layers' weights are still tensors.
    const { ids, mask } = batch(1, 1, config.vocab_size);
    // The models cache their RoPE tables per length: made once here, before the figures are taken.
    tf.tidy(() => {
      for (const m of [lm, retriever]) m.forward(ids, mask, { returnLogits: false });
    });
    const loaded = tf.memory();
    // Tensor bytes beyond the loaded models at each layer's attention in pass 2: pass 1's keys and
    // values, the activations taped so far and, were they kept, the weights of earlier layers.
    let mostAtAttention = 0;
    const atAttention = () => {
      mostAtAttention = Math.max(mostAtAttention, tf.memory().numBytes - loaded.numBytes);
    };
    const vars = [...lm.trainableVariables(), ...retriever.trainableVariables()];
    const { value, grads } = frugalVariableGrads(revelaLikeLoss(lm, retriever, ids, mask, true, atAttention), vars);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    // No layer's weights outlive the piece that made them: even at the last layer, with five layers
    // of pass 2 and all of pass 1 run, what is live stays below a single layer's weights (plus the
    // adapters' size as room for the one-token activations) — kept weights would be several layers'.
    expect(mostAtAttention).toBeGreaterThan(0);
    expect(mostAtAttention).toBeLessThan(oneLayer + adapterBytes);
    tf.dispose([value, grads]);
    // After forward and backward nothing of the layers is left: the tensors of the loaded model only.
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({
      tensors: loaded.numTensors,
      bytes: loaded.numBytes,
    });
    tf.dispose([ids, mask]);
    retriever.dispose();
    lm.dispose();
    expect(tf.memory().numBytes).toBe(start.numBytes);
  });

  it("an offloaded model refuses to record gradients without recomputation, naming the layer and what to set; inference needs none", async () => {
    const dir = await randomCheckpoint("no-recompute", llama, 13);
    const { lm, retriever } = await loraPair(dir, true, false);
    const { ids, mask } = batch(2, 5, llama.vocab_size);
    const vars = [...lm.trainableVariables(), ...retriever.trainableVariables()];
    // Without a tape nothing is kept: no recomputation needed (this also caches the RoPE tables).
    const logits = tf.tidy(() => Array.from(lm.forward(ids, mask, { recompute: false }).logits!.dataSync()));
    expect(logits.every(Number.isFinite)).toBe(true);
    const before = tf.memory().numTensors;
    expect(() => frugalVariableGrads(revelaLikeLoss(lm, retriever, ids, mask, false), vars)).toThrow(
      /layer 0's weights are offloaded to JavaScript memory and gradients are being recorded without recomputation.*set the model's recomputeLayers = true/,
    );
    // Recomputation asked for, but LoRA dropout without a seed would turn it off.
    const unseeded = () =>
      tf.add(
        lm.forward(ids, mask, { computeLoss: true, recompute: true, training: {} }).loss as tf.Scalar,
        0,
      ) as tf.Scalar;
    expect(() => frugalVariableGrads(unseeded, vars)).toThrow(/layer 0's weights .*pass training\.dropoutSeed/);
    // Refused before any layer weight became a tensor.
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask]);
    retriever.dispose();
    lm.dispose();
  });

  it("an offloaded model is a frozen base: it refuses full training and merging, naming the offloaded weights", async () => {
    const dir = await randomCheckpoint("frozen", llama, 9);
    const model = await loadPretrained(dir, { offloadLayers: true });
    expect([...model.params.values()].every((v) => !v.trainable)).toBe(true);
    expect(() => model.trainableVariables()).toThrow(
      /decoder-layer weights are offloaded to JavaScript memory \(frozen, e\.g\. "model\.layers\.0\..*"\); train this model through LoRA adapters/,
    );
    enableLora(model, lora, { seed: 1 });
    expect(model.trainableVariables().length).toBe(2 * 7 * llama.num_hidden_layers);
    expect(() => mergeLora(model)).toThrow(/offloaded to JavaScript memory .* load it without offloadLayers/);
    expect(() => CausalLM.fromTensors(model.config, new Map(), { offloadLayers: "yes" as never })).toThrow(
      /options\.offloadLayers must be true or false/,
    );
    // Refused by loadPretrained under its own name, before anything is read.
    await expect(loadPretrained(dir, { offloadLayers: 1 as never })).rejects.toThrow(
      /^loadPretrained: options\.offloadLayers must be true or false, got 1$/,
    );
    model.dispose();
  });
});

describe("offloadLayers on the wasm heap", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("a LoRA training step's peak of tensor buffers is the resident model's less all layers' weights but one", async () => {
    // Weights dominate: 8 layers of 3.9 MiB each against a few kilobytes of activations (B 1, L 8).
    const config = { ...llama, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 8 };
    const dir = await randomCheckpoint("wasm-peak", config, 11);
    const { ids, mask } = batch(1, 8, config.vocab_size);
    const stepPeak = async (offload: boolean) => {
      const { lm, retriever } = await loraPair(dir, offload, true);
      const layers = [...lm.params]
        .filter(([n]) => n.startsWith("model.layers."))
        .reduce((s, [, v]) => s + 4 * v.size, 0);
      resetWasmTensorPeak();
      const before = wasmTensorBytes().live;
      // An offloaded model keeps its adapters in JavaScript memory too (those perturbAdapters did
      // not just assign anew): counted apart, so that the comparison is of the layer weights.
      const vars = [...lm.trainableVariables(), ...retriever.trainableVariables()];
      const adaptersOutside = vars.filter((v) => isInJsMemory(v)).reduce((s, v) => s + 4 * v.size, 0);
      const { value, grads } = frugalVariableGrads(revelaLikeLoss(lm, retriever, ids, mask, true), vars);
      const loss = value.dataSync()[0] as number;
      tf.dispose([value, grads]);
      const peak = wasmTensorBytes().peak;
      retriever.dispose();
      lm.dispose();
      // The peak of the whole: what the loaded models hold plus what the step adds.
      return { loss, peak, before, layers, adaptersOutside };
    };
    const resident = await stepPeak(false);
    const offloaded = await stepPeak(true);
    expect(offloaded.loss).toBeCloseTo(resident.loss, 4);
    const oneLayer = resident.layers / config.num_hidden_layers;
    expect(resident.adaptersOutside).toBe(0);
    expect(resident.before - offloaded.before).toBe(resident.layers + offloaded.adaptersOutside);
    // The step itself may hold one layer piece's weights at a time on top of the resident part.
    expect(offloaded.peak).toBeLessThan(resident.peak - resident.layers + oneLayer);
    tf.dispose([ids, mask]);
  });

  it("an offloaded model's LoRA adapters live in JavaScript memory between uses: a step holds at most two layers' of them, with the loss and gradients of adapters kept in the heap bit for bit", async () => {
    // Adapters dominate: r 64 on 8 layers of d 256 is 1.4 MiB a layer and model, 23 MiB in all,
    // against a few hundred kilobytes of activations (B 1, L 8).
    const config = { ...llama, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 8 };
    const wide = parseLoraConfig({ ...lora, r: 64, lora_alpha: 16, target_modules: lora.targetModules }, "test");
    const dir = await randomCheckpoint("wasm-adapters", config, 12);
    const { ids, mask } = batch(1, 8, config.vocab_size);
    const stepOf = async (inJsMemory: boolean) => {
      const heapBefore = wasmTensorBytes().live;
      const lm = await loadPretrained(dir, { offloadLayers: true });
      lm.recomputeLayers = true;
      lm.keepAdaptersInJsMemory = inJsMemory;
      enableLora(lm, wide, { seed: 4 });
      perturbAdapters(lm, 100);
      const retriever = CausalLM.withFrozenBase(lm, { backbone: true });
      retriever.keepAdaptersInJsMemory = inJsMemory;
      enableLora(retriever, wide, { seed: 6 });
      perturbAdapters(retriever, 200);
      // perturbAdapters assigned new B values in the heap: the first layer piece would move them out.
      for (const m of [lm, retriever]) m.moveAdaptersToJsMemory();
      const adapterBytes = [lm, retriever].reduce(
        (s, m) => s + [...m.lora.values()].reduce((t, a) => t + 4 * (a.a.size + a.b.size), 0),
        0,
      );
      resetWasmTensorPeak();
      const before = wasmTensorBytes().live;
      const vars = [...lm.trainableVariables(), ...retriever.trainableVariables()];
      const { value, grads } = frugalVariableGrads(revelaLikeLoss(lm, retriever, ids, mask, true), vars);
      const peak = wasmTensorBytes().peak;
      const loss = value.dataSync()[0] as number;
      const gradients = vars.map((v) => (grads[v.name] as tf.Tensor).dataSync().slice());
      tf.dispose([value, grads]);
      // Every adapter but those of the last layer whose backward ran (layer 0 of each model) is out.
      const outside = lm.adaptersOutsideHeap() + retriever.adaptersOutsideHeap();
      const values = vars.map((v) => v.dataSync().slice());
      retriever.dispose();
      lm.dispose();
      return { loss, gradients, values, peak, before: before - heapBefore, adapterBytes, outside, count: vars.length };
    };
    const inHeap = await stepOf(false);
    const inJs = await stepOf(true);
    expect(inHeap.outside).toBe(0);
    // 2 models × 7 modules × 2 matrices per layer; those of layer 0 may stay in until the next piece.
    expect(inJs.outside).toBeGreaterThanOrEqual(inJs.count - 2 * 7 * 2);
    expect(inJs.loss).toBe(inHeap.loss);
    for (const [i, g] of inJs.gradients.entries()) expect(g, `gradient ${i}`).toEqual(inHeap.gradients[i]);
    for (const [i, v] of inJs.values.entries()) expect(v, `adapter ${i}`).toEqual(inHeap.values[i]);
    // Loaded, the heap holds none of them; in the step, at most two layers' of each model.
    expect(inHeap.before - inJs.before).toBe(inJs.adapterBytes);
    const layerAdapters = inJs.adapterBytes / 2 / config.num_hidden_layers;
    expect(inJs.peak).toBeLessThanOrEqual(inHeap.peak - inJs.adapterBytes + 2 * 2 * layerAdapters);
    tf.dispose([ids, mask]);
  });

  it("adapters kept in JavaScript memory save and load bit for bit, and loaded adapters go to JavaScript memory", async () => {
    const config = { ...llama, num_hidden_layers: 2 };
    const dir = await randomCheckpoint("wasm-adapter-save", config, 13);
    const lm = await loadPretrained(dir, { offloadLayers: true });
    enableLora(lm, lora, { seed: 4 });
    perturbAdapters(lm, 300);
    // perturbAdapters assigned new B values in the heap; the next layer piece (or this) moves them out.
    expect(lm.moveAdaptersToJsMemory()).toBe(lm.lora.size);
    expect(lm.adaptersOutsideHeap()).toBe(2 * lm.lora.size);
    const adapterDir = path.join(tmp, "wasm-adapter-save-lora");
    await saveLoraAdapter(lm, adapterDir, lora);
    const again = await loadPretrained(dir, { offloadLayers: true });
    resetWasmTensorPeak();
    const live = wasmTensorBytes().live;
    await loadLoraAdapter(again, adapterDir);
    expect(again.adaptersOutsideHeap()).toBe(2 * again.lora.size);
    // Made (enableLora) and loaded one matrix at a time: the heap held at most one module's
    // adapter on top of the model, not the 2 × 7 modules' of both layers.
    const largest = Math.max(...[...again.lora.values()].map((a) => 4 * (a.a.size + a.b.size)));
    expect(wasmTensorBytes().peak - live).toBeLessThanOrEqual(largest);
    expect(wasmTensorBytes().live).toBe(live);
    for (const [module, a] of lm.lora) {
      const b = again.lora.get(module)!;
      expect(isInJsMemory(b.a) && isInJsMemory(b.b)).toBe(true);
      expect(b.a.dataSync()).toEqual(a.a.dataSync());
      expect(b.b.dataSync()).toEqual(a.b.dataSync());
    }
    again.dispose();
    lm.dispose();
  });
});
