import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend } from "@revela/kernels";
import { CausalLM, enableLora, loadPretrained, parseLoraConfig, saveModel } from "@revela/language-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { namedTrainables } from "../../src/run/namedTrainables.js";

const config = {
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

let tmp = "";
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "named-trainables-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("namedTrainables", () => {
  it("refuses a model with offloaded layers and no LoRA, naming them; with LoRA it names the adapters", async () => {
    const dir = path.join(tmp, "checkpoint");
    const source = CausalLM.create(config, { seed: 2 });
    await saveModel(source, dir);
    // A resident model without LoRA trains every weight.
    expect(Object.keys(namedTrainables("lm", source))).toHaveLength(source.params.size);
    source.dispose();

    const model = await loadPretrained(dir, { offloadLayers: true });
    expect(() => namedTrainables("lm", model)).toThrow(
      /^namedTrainables: model \(for "lm"\) keeps 18 frozen decoder-layer weights in JavaScript memory \(offloadLayers, e\.g\. "model\.layers\.0\..*"\); train it through LoRA adapters/,
    );
    enableLora(model, parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: ["q_proj", "v_proj"] }, "test"), {
      seed: 1,
    });
    expect(Object.keys(namedTrainables("lm", model)).sort()).toEqual(
      [0, 1].flatMap((i) =>
        ["q_proj", "v_proj"].flatMap((m) => [
          `lm/model.layers.${i}.self_attn.${m}.lora_A`,
          `lm/model.layers.${i}.self_attn.${m}.lora_B`,
        ]),
      ),
    );
    model.dispose();
  });
});
