import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { CausalLM, enableLora, initCopyAttention, parseLoraConfig } from "../../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

// Grouped-query: 4 heads share 2 key-value heads of 4 dimensions each; hidden 16.
const config = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 30,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 16,
};

/**
 * What attention writes back per unit of what it reads, summed over heads: Σ_h O_h · V_g(h), as
 * [hidden, hidden] — head h reads the value slice of its group g(h) = ⌊h / (heads / kvHeads)⌋.
 */
function readWriteMap(model: CausalLM, layer: number): number[][] {
  const c = model.config;
  const d = c.hiddenSize;
  const hd = c.headDim;
  const v = model.params.get(`model.layers.${layer}.self_attn.v_proj.weight`)?.arraySync() as number[][];
  const o = model.params.get(`model.layers.${layer}.self_attn.o_proj.weight`)?.arraySync() as number[][];
  const perGroup = c.numAttentionHeads / c.numKeyValueHeads;
  const m = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let h = 0; h < c.numAttentionHeads; h++) {
    const g = Math.floor(h / perGroup);
    for (let out = 0; out < d; out++) {
      const row = m[out] as number[];
      for (let e = 0; e < hd; e++) {
        const weight = (o[out] as number[])[h * hd + e] as number;
        const read = v[g * hd + e] as number[];
        for (let inp = 0; inp < d; inp++) row[inp] = (row[inp] as number) + weight * (read[inp] as number);
      }
    }
  }
  return m;
}

describe("initCopyAttention", () => {
  it("makes every layer's attention write back scale × the first kvHeads·headDim dimensions it reads", () => {
    const model = CausalLM.create(config, { seed: 1 });
    initCopyAttention(model, 0.5);
    for (const layer of [0, 1]) {
      const m = readWriteMap(model, layer);
      for (let out = 0; out < 16; out++)
        for (let inp = 0; inp < 16; inp++) expect(m[out]?.[inp]).toBeCloseTo(out === inp && inp < 8 ? 0.5 : 0, 6);
    }
    // Queries and keys keep their random init; the model still runs.
    const ids = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [2, 3],
      "int32",
    );
    const mask = tf.onesLike(ids);
    const logits = model.forward(ids, mask, { returnLogits: true }).logits;
    expect(logits?.shape).toEqual([2, 3, 30]);
    expect(Array.from(logits?.dataSync() ?? []).every(Number.isFinite)).toBe(true);
    tf.dispose([ids, mask, logits as tf.Tensor]);
    model.dispose();
  });

  it("refuses a scale that is not > 0, a model with LoRA adapters, and heads wider than the hidden state", () => {
    const model = CausalLM.create(config, { seed: 2 });
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => initCopyAttention(model, bad)).toThrow(/scale must be a finite number > 0/);
    enableLora(model, parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: ["v_proj"] }, "test"));
    expect(() => initCopyAttention(model, 1)).toThrow(/LoRA adapters/);
    model.dispose();
    const wide = CausalLM.create({ ...config, num_key_value_heads: 4, head_dim: 8 }, { seed: 3 });
    expect(() => initCopyAttention(wide, 1)).toThrow(/numKeyValueHeads·headDim \(4·8\) exceeds hiddenSize \(16\)/);
    wide.dispose();
  });
});
