import { initBackend } from "@revela/kernels";
import { beforeAll, describe, expect, it } from "vitest";
import { CausalLM, parseModelConfig } from "../../src/index.js";

const llama = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 100,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  max_position_embeddings: 128,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
};

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

describe("config.json parsing", () => {
  it("reads a Llama-3.2-style config, defaulting head_dim and keeping unknown fields", () => {
    const c = parseModelConfig({
      ...llama,
      rope_scaling: {
        rope_type: "llama3",
        factor: 32,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      },
    });
    expect(c.headDim).toBe(8);
    expect(c.ropeScaling).toEqual({
      ropeType: "llama3",
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.qkvBias).toBe(false);
    expect(c.extra).toEqual({ torch_dtype: "bfloat16" });
  });

  it("gives Qwen2 its q/k/v biases", () => {
    const c = parseModelConfig({
      ...llama,
      architectures: ["Qwen2ForCausalLM"],
      model_type: "qwen2",
      use_sliding_window: false,
      sliding_window: 4096,
    });
    expect(c.qkvBias).toBe(true);
    expect(c.oBias).toBe(false);
    const model = CausalLM.create(c);
    expect(model.params.get("model.layers.0.self_attn.k_proj.bias")!.shape).toEqual([16]);
    expect(model.params.has("model.layers.0.self_attn.o_proj.bias")).toBe(false);
    model.dispose();
  });

  it("fails clearly on what it cannot honour", () => {
    expect(() => parseModelConfig({ ...llama, architectures: ["MistralForCausalLM"] })).toThrow(
      /unknown architecture "MistralForCausalLM"; registered: LlamaForCausalLM, Qwen2ForCausalLM/,
    );
    expect(() => parseModelConfig({ ...llama, rope_scaling: { rope_type: "yarn", factor: 4 } })).toThrow(
      /rope_scaling.*"yarn".*only "llama3"/,
    );
    expect(() => parseModelConfig({ ...llama, hidden_act: "gelu" })).toThrow(/hidden_act.*"gelu".*not supported/);
    expect(() => parseModelConfig({ ...llama, num_key_value_heads: 3 })).toThrow(
      /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/,
    );
    expect(() => parseModelConfig({ ...llama, hidden_size: undefined })).toThrow(
      /config.json: field "hidden_size" must be an integer from 1 to 65536 \(required\)/,
    );
    expect(() => parseModelConfig({ ...llama, vocab_size: 12.5 })).toThrow(/"vocab_size" must be an integer/);
    expect(() =>
      parseModelConfig({
        ...llama,
        architectures: ["Qwen2ForCausalLM"],
        model_type: "qwen2",
        use_sliding_window: true,
      }),
    ).toThrow(/use_sliding_window.*not supported/);
    expect(() => parseModelConfig({ ...llama, architectures: undefined })).toThrow(/"architectures" must be a list/);
    expect(() => parseModelConfig({ ...llama, mlp_bias: true })).toThrow(/mlp_bias/);
  });

  it("initialises from scratch reproducibly with Hugging Face's scheme", () => {
    const a = CausalLM.create(llama, { seed: 3 });
    const b = CausalLM.create(llama, { seed: 3 });
    const c = CausalLM.create(llama, { seed: 4 });
    const w = (m: CausalLM) => m.params.get("model.layers.1.mlp.up_proj.weight")!.dataSync();
    expect(Array.from(w(a))).toEqual(Array.from(w(b)));
    expect(Array.from(w(a))).not.toEqual(Array.from(w(c)));
    const values = Array.from(w(a));
    const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    expect(std).toBeGreaterThan(0.017);
    expect(std).toBeLessThan(0.023);
    expect(Array.from(a.params.get("model.norm.weight")!.dataSync()).every((v) => v === 1)).toBe(true);
    expect(a.params.has("lm_head.weight")).toBe(false); // tied
    for (const m of [a, b, c]) m.dispose();
  });
});
