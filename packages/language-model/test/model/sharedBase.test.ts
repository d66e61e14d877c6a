import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { CausalLM, enableLora, mergeLora, parseLoraConfig } from "../../src/index.js";

/**
 * The paper's setup: retriever and LM from one checkpoint, each with its own LoRA adapters. One
 * frozen copy of the base serves both (CausalLM.withFrozenBase); these tests pin down that it
 * computes what two copies compute, holds only the adapters' memory, and frees the weights once.
 */

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

const config = {
  architectures: ["Qwen2ForCausalLM"],
  model_type: "qwen2",
  vocab_size: 50,
  hidden_size: 16,
  intermediate_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  tie_word_embeddings: true,
};
const lora = parseLoraConfig(
  {
    r: 4,
    lora_alpha: 8,
    target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
  },
  "test",
);

function batch(): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  return {
    ids: tf.tensor2d([3, 9, 27, 31, 12, 5, 7, 44, 2, 1, 0, 0], [2, 6], "int32"),
    mask: tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [2, 6], "int32"),
  };
}

/** LoRA B starts at zero; random B makes the adapters change the output, as after training. */
function perturbAdapters(model: CausalLM, seed: number): void {
  let i = 0;
  for (const adapter of model.lora.values()) {
    tf.tidy(() => adapter.b.assign(tf.randomNormal(adapter.b.shape, 0, 0.1, "float32", seed + i++)));
  }
}

function embed(model: CausalLM): Float32Array {
  return tf.tidy(() => {
    const { ids, mask } = batch();
    return model.forward(ids, mask, { returnLogits: false }).lastHiddenState.dataSync() as Float32Array;
  });
}

describe("CausalLM.withFrozenBase", () => {
  it("a retriever on the LM's frozen base computes what a retriever on its own copy computes, holding only its adapters", () => {
    const lm = CausalLM.create(config, { seed: 1 });
    enableLora(lm, lora, { seed: 11 });
    perturbAdapters(lm, 100);
    const before = tf.memory().numBytes;
    const shared = CausalLM.withFrozenBase(lm, { backbone: true });
    expect(tf.memory().numBytes).toBe(before);
    enableLora(shared, lora, { seed: 13 });
    perturbAdapters(shared, 200);
    const adapterBytes = [...shared.lora.values()].reduce((s, a) => s + 4 * (a.a.size + a.b.size), 0);
    expect(tf.memory().numBytes - before).toBe(adapterBytes);
    for (const [name, v] of shared.params) expect(v).toBe(lm.params.get(name));
    expect(shared.params.has("lm_head.weight")).toBe(false);

    const own = CausalLM.create(config, { seed: 1, backbone: true });
    enableLora(own, lora, { seed: 13 });
    perturbAdapters(own, 200);
    expect(Array.from(embed(shared))).toEqual(Array.from(embed(own)));
    // Different adapters on one base: the LM's own output is its own.
    expect(Array.from(embed(shared))).not.toEqual(Array.from(embed(lm)));
    own.dispose();
    shared.dispose();
    lm.dispose();
  });

  it("training one model's adapters leaves the shared base and the other model unchanged", () => {
    const lm = CausalLM.create(config, { seed: 2 });
    enableLora(lm, lora, { seed: 21 });
    const retriever = CausalLM.withFrozenBase(lm, { backbone: true });
    enableLora(retriever, lora, { seed: 23 });
    const lmBefore = embed(lm);
    const baseBefore = [...lm.params.values()].map((v) => v.dataSync().slice());
    const { ids, mask } = batch();
    const { grads } = tf.variableGrads(
      () => tf.sum(retriever.forward(ids, mask, { returnLogits: false }).lastHiddenState) as tf.Scalar,
      retriever.trainableVariables(),
    );
    // Gradients for the adapters only: frozen weights need neither gradients nor optimizer state.
    expect(Object.keys(grads).sort()).toEqual(
      retriever
        .trainableVariables()
        .map((v) => v.name)
        .sort(),
    );
    for (const v of retriever.trainableVariables()) {
      v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.5)));
    }
    tf.dispose(grads);
    expect(Array.from(embed(lm))).toEqual(Array.from(lmBefore));
    [...lm.params.values()].forEach((v, i) => {
      expect(Array.from(v.dataSync())).toEqual(Array.from(baseBefore[i] as Float32Array));
    });
    retriever.dispose();
    lm.dispose();
  });

  it("the weights are freed by the last model disposed, in either order, and the other keeps working", () => {
    for (const order of ["base first", "sharer first"] as const) {
      const start = tf.memory();
      const lm = CausalLM.create(config, { seed: 3 });
      enableLora(lm, lora, { seed: 31 });
      const retriever = CausalLM.withFrozenBase(lm, { backbone: true });
      enableLora(retriever, lora, { seed: 33 });
      perturbAdapters(retriever, 300);
      const expected = embed(retriever);
      const [first, second] = order === "base first" ? [lm, retriever] : [retriever, lm];
      first.dispose();
      if (second === retriever) expect(Array.from(embed(retriever))).toEqual(Array.from(expected));
      else expect(embed(lm).length).toBe(expected.length);
      second.dispose();
      const end = tf.memory();
      expect({ order, numTensors: end.numTensors, numBytes: end.numBytes }).toEqual({
        order,
        numTensors: start.numTensors,
        numBytes: start.numBytes,
      });
    }
  });

  it("refuses a base whose weights still train, and refuses to merge adapters into shared weights", () => {
    const full = CausalLM.create(config, { seed: 4 });
    expect(() => CausalLM.withFrozenBase(full, { backbone: true })).toThrow(
      /the base model's weights must be frozen .* are trainable, e\.g\. "model\.embed_tokens\.weight"/,
    );
    enableLora(full, lora, { seed: 41 });
    const retriever = CausalLM.withFrozenBase(full, { backbone: true });
    enableLora(retriever, lora, { seed: 43 });
    expect(() => mergeLora(retriever)).toThrow(/shared with another model .* merging would change both/);
    retriever.dispose();
    expect(full.sharesBase).toBe(false);
    mergeLora(full);
    full.dispose();
  });
});
