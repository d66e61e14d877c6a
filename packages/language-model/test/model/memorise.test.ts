import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, it } from "vitest";
import { CausalLM, greedyGenerate } from "../../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

it("learns a sequence in a few steps and greedy generation reproduces it", () => {
  const model = CausalLM.create(
    {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: 24,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 32,
      eos_token_id: 2,
    },
    { seed: 1 },
  );
  const sequence = [1, 5, 9, 3, 17, 11, 20, 8, 2];
  const before = greedyGenerate(model, sequence.slice(0, 2), { maxNewTokens: 7 });
  const ids = tf.tensor2d([sequence], undefined, "int32");
  const mask = tf.onesLike(ids);
  const optimizer = tf.train.adam(0.01);
  let loss = Number.POSITIVE_INFINITY;
  for (let step = 0; step < 80 && loss > 0.01; step++) {
    const l = optimizer.minimize(
      () => model.forward(ids, mask, { computeLoss: true, returnLogits: false }).loss!,
      true,
    ) as tf.Scalar;
    loss = l.dataSync()[0] as number;
    l.dispose();
  }
  expect(loss).toBeLessThan(0.05);
  const after = greedyGenerate(model, sequence.slice(0, 2), { maxNewTokens: 10 });
  expect(after).toEqual(sequence.slice(2)); // stops at eos (2)
  expect(before).not.toEqual(sequence.slice(2));
  tf.dispose([ids, mask]);
  optimizer.dispose();
  model.dispose();
});
