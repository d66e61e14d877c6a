import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend } from "@revela/kernels";
import { CausalLM, RunMemoryError, saveModel } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveAppConfig } from "../src/pipeline/appConfig.js";
import { buildModels, llama3TokenizerDir, offloadedBytesPerParameter } from "../src/pipeline/models.js";

/**
 * `revela train --model <dir>` with LoRA: the retriever shares the LM's frozen base (one copy of the
 * weights in the 4 GiB wasm heap), and a model that cannot fit is refused before anything loads.
 */

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm" });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "revela-pretrained-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function withTokenizer(dir: string): void {
  for (const file of ["tokenizer.json", "tokenizer_config.json"]) {
    const from = path.join(llama3TokenizerDir(), file);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(dir, file));
  }
}

describe("pretrained models in the app", () => {
  it("with LoRA, the retriever backbone uses the LM's frozen weights, its decoder layers offloaded, and has its own adapters", async () => {
    const dir = path.join(tmp, "tiny");
    const source = CausalLM.create(
      {
        architectures: ["LlamaForCausalLM"],
        model_type: "llama",
        vocab_size: 128256,
        hidden_size: 8,
        intermediate_size: 16,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        max_position_embeddings: 512,
        tie_word_embeddings: true,
      },
      { seed: 1 },
    );
    await saveModel(source, dir);
    source.dispose();
    withTokenizer(dir);
    const start = tf.memory().numBytes;
    const config = resolveAppConfig({ values: { model: { dir, loraR: 4, loraAlpha: 8 } } });
    const models = await buildModels(config, []);
    const retriever = await models.makeRetrieverBackbone();
    expect(retriever.params.size).toBeGreaterThan(0);
    for (const [name, v] of retriever.params) expect(v, name).toBe(models.lm.params.get(name));
    // The decoder layers live in JavaScript memory, shared too; only embeddings and norm are tensors.
    expect(models.lm.offloaded.size).toBeGreaterThan(0);
    expect([...models.lm.params.keys()].some((n) => n.startsWith("model.layers."))).toBe(false);
    for (const [name, w] of retriever.offloaded) expect(w, name).toBe(models.lm.offloaded.get(name));
    expect(retriever.lora.size).toBe(models.lm.lora.size);
    expect([models.lm.recomputeLayers, retriever.recomputeLayers]).toEqual([true, true]);
    for (const [module, adapter] of retriever.lora) expect(adapter.a).not.toBe(models.lm.lora.get(module)?.a);
    const adapters = [...models.lm.lora.values(), ...retriever.lora.values()].reduce(
      (s, a) => s + 4 * (a.a.size + a.b.size),
      0,
    );
    const weights = [...models.lm.params.values()].reduce((s, v) => s + 4 * v.size, 0);
    expect(tf.memory().numBytes - start).toBe(weights + adapters);
    models.lm.dispose();
    retriever.dispose();
    expect(tf.memory().numBytes).toBe(start);
  });

  it("sizes offloaded layers by the dtypes the checkpoint's headers record, not config.json's torch_dtype", async () => {
    const shape = {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: 40,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 32,
    };
    const save = async (name: string, dtype: "F32" | "BF16", torchDtype: string | null) => {
      const dir = path.join(tmp, name);
      const model = CausalLM.create(shape, { seed: 1 });
      for (const spec of model.parameterSpecs()) model.sourceDtypes.set(spec.name, dtype);
      await saveModel(model, dir);
      model.dispose();
      // saveModel writes no torch_dtype; one that disagrees with the files must not count.
      if (torchDtype !== null) {
        const file = path.join(dir, "config.json");
        fs.writeFileSync(
          file,
          JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), torch_dtype: torchDtype }),
        );
      }
      return dir;
    };
    expect(await offloadedBytesPerParameter(await save("bf16-no-torch-dtype", "BF16", null))).toBe(2);
    expect(await offloadedBytesPerParameter(await save("f32-said-bfloat16", "F32", "bfloat16"))).toBe(4);
    // No checkpoint to read: the estimate's default applies, and loadPretrained names what is missing.
    expect(await offloadedBytesPerParameter(path.join(tmp, "nowhere"))).toBeNull();
    await expect(offloadedBytesPerParameter("")).rejects.toThrow(
      /offloadedBytesPerParameter: dir must be a directory path/,
    );
  });

  it("refuses a model that cannot fit the wasm heap before loading it, naming the figure, the limit and what to change", async () => {
    // Qwen2.5-0.5B's config.json and no weights at all: the refusal must come from the config alone.
    const dir = path.join(tmp, "qwen-shape");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, "config.json"),
      JSON.stringify({
        architectures: ["Qwen2ForCausalLM"],
        model_type: "qwen2",
        vocab_size: 151936,
        hidden_size: 896,
        intermediate_size: 4864,
        num_hidden_layers: 24,
        num_attention_heads: 14,
        num_key_value_heads: 2,
        max_position_embeddings: 32768,
        tie_word_embeddings: true,
        rope_theta: 1000000,
      }),
    );
    const before = tf.memory();
    // At the paper's B 16 the shape fits (3.9 GiB, issue 15); twice that batch does not.
    const config = resolveAppConfig({
      values: { model: { dir, loraR: 256, loraAlpha: 64 }, train: { batchSize: 32 } },
    });
    const error = await buildModels(config, []).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RunMemoryError);
    const message = (error as Error).message;
    expect(message).toContain(`revela train --model ${dir}: this run needs an estimated`);
    expect(message).toMatch(/more than the wasm heap's maximum \(4\.00 GiB\)/);
    expect(message).toContain(
      "base weights 519.3 MiB (one frozen copy shared by the LM and 2 retrievers: embeddings, final norm in the heap; the 24 decoder layers offloaded to JavaScript memory)",
    );
    expect(message).toMatch(/activations [\d.]+ GiB \(B 32, LM L 156/);
    expect(message).toMatch(/Each of these alone would fit: train\.batchSize 16 \(from 32\)/);
    expect(message).toContain("nothing was loaded");
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({
      tensors: before.numTensors,
      bytes: before.numBytes,
    });
  });
});
