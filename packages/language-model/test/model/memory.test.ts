import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CausalLM,
  enableLora,
  loadLoraAdapter,
  loadPretrained,
  mergeLora,
  parseLoraConfig,
  parseModelConfig,
  saveLoraAdapter,
  saveModel,
} from "../../src/index.js";
import { readGoldens } from "../support/goldens.js";

/**
 * Every way to make a model, then dispose: tf.memory() must be back where it started — a model
 * that leaves its source tensors behind leaks its whole size on every load (30 loads of a 16 MB
 * checkpoint left 471 MB).
 */

let scratch: string;
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  scratch = await mkdtemp(join(tmpdir(), "revela-lm-memory-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const config = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 16,
};
const lora = parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: ["q_proj", "v_proj"] }, "test");

/** Runs `make` (which builds and disposes) three times; the tensor count and bytes must not move. */
async function expectNoLeak(make: () => Promise<void> | void): Promise<void> {
  await make(); // first call may create lasting backend state (kernels, caches)
  const before = tf.memory();
  for (let i = 0; i < 3; i++) await make();
  const after = tf.memory();
  expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({
    numTensors: before.numTensors,
    numBytes: before.numBytes,
  });
}

/** One forward pass, so that the RoPE tables are cached too. */
function touch(model: CausalLM): void {
  tf.tidy(() => {
    const ids = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
    model.forward(ids, tf.onesLike(ids), { returnLogits: false });
  });
}

describe("load → dispose leaves tf.memory() unchanged", () => {
  it("CausalLM.create (LM and backbone)", async () => {
    await expectNoLeak(() => {
      const model = CausalLM.create(config, { seed: 1 });
      touch(model);
      model.dispose();
      CausalLM.create(config, { seed: 1, backbone: true }).dispose();
    });
  });

  it("CausalLM.fromTensors", async () => {
    const source = CausalLM.create(config, { seed: 2 });
    const tensors = new Map(
      [...source.params].map(([name, v]) => [name, { shape: v.shape, data: v.dataSync() as Float32Array }]),
    );
    source.dispose();
    await expectNoLeak(() => {
      const model = CausalLM.fromTensors(parseModelConfig(config), tensors);
      touch(model);
      model.dispose();
    });
  });

  it("enableLora and mergeLora", async () => {
    await expectNoLeak(() => {
      const model = CausalLM.create(config, { seed: 3 });
      enableLora(model, lora, { seed: 3 });
      touch(model);
      mergeLora(model);
      model.dispose();
    });
  });

  for (const name of ["tiny-llama", "tiny-qwen2", "tiny-llama-bf16"]) {
    it(`loadPretrained ${name} (LM, backbone, with its LoRA adapter)`, async () => {
      const { dir } = readGoldens(name);
      await expectNoLeak(async () => {
        const model = await loadPretrained(dir);
        touch(model);
        model.dispose();
        (await loadPretrained(dir, { backbone: true })).dispose();
        (await loadPretrained(dir, { adapter: join(dir, "lora") })).dispose();
      });
    });
  }

  it("loadLoraAdapter on a model, and a save → load round trip", async () => {
    const model = CausalLM.create(config, { seed: 4 });
    enableLora(model, lora, { seed: 4 });
    const dir = join(scratch, "saved");
    await saveModel(model, dir);
    await saveLoraAdapter(model, join(dir, "adapter"), lora);
    model.dispose();
    await expectNoLeak(async () => {
      const loaded = await loadPretrained(dir);
      await loadLoraAdapter(loaded, join(dir, "adapter"));
      loaded.dispose();
    });
  });
});
