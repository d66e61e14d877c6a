import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { CausalLM, enableLora, parseLoraConfig } from "../../src/index.js";

/**
 * finalHiddenAt — the last layer at one position per sequence — against the full forward pass
 * gathered at those positions: the same states and the same gradients for every weight, with
 * padding, grouped-query heads, Qwen2's biases and LoRA. With LoRA dropout the B rows draw their own
 * masks (the same distribution, not the full pass's masks at those rows), reproducibly per seed.
 */

const llama = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 50,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
};
const qwen = { ...llama, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2" };
const [b, l] = [3, 7];
const lengths = [7, 4, 5];
const ids = () =>
  tf.tensor2d(
    Array.from({ length: b * l }, (_, i) =>
      Math.floor(i / l) < b && i % l < (lengths[Math.floor(i / l)] as number) ? (i * 13) % 50 : 0,
    ),
    [b, l],
    "int32",
  );
const mask = () =>
  tf.tensor2d(
    Array.from({ length: b * l }, (_, i) => (i % l < (lengths[Math.floor(i / l)] as number) ? 1 : 0)),
    [b, l],
    "int32",
  );
const maxAbsDiff = (x: tf.Tensor, y: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0] as number);

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

describe("CausalLM.finalHiddenAt", () => {
  for (const [name, config, withLora] of [
    ["llama", llama, false],
    ["qwen2 (biases)", qwen, false],
    ["llama with LoRA", llama, true],
  ] as const) {
    it(`${name}: states and every gradient match the full forward gathered at the positions`, () => {
      const model = CausalLM.create(config, { seed: 4, backbone: true });
      if (withLora) {
        enableLora(
          model,
          parseLoraConfig(
            {
              r: 2,
              lora_alpha: 4,
              lora_dropout: 0,
              target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"],
            },
            "test",
          ),
        );
        // B starts at zero: move it so the adapters change the output and get real gradients.
        for (const v of model.trainableVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.3, "float32", 9));
      }
      const [x, m] = [ids(), mask()];
      // Last real token of each row and, for row 0, a middle one.
      const positions = [3, 3, 4];
      const cotangent = tf.randomNormal([b, config.hidden_size], 0, 1, "float32", 7);
      const training = withLora ? { dropoutSeed: 11 } : undefined;
      const rows = tf.tensor1d(
        positions.map((t, n) => n * l + t),
        "int32",
      );
      const full = () =>
        tf.gather(
          tf.reshape(model.forward(x, m, { returnLogits: false, ...(training ? { training } : {}) }).lastHiddenState, [
            b * l,
            -1,
          ]),
          rows,
        );
      const fast = () => model.finalHiddenAt(x, m, positions, training ? { training } : {});
      const vars = model.trainableVariables();
      const g1 = tf.variableGrads(() => tf.sum(tf.mul(full(), cotangent)), vars);
      const g2 = tf.variableGrads(() => tf.sum(tf.mul(fast(), cotangent)), vars);
      const s1 = full();
      const s2 = fast();
      expect(s2.shape).toEqual([b, config.hidden_size]);
      expect(maxAbsDiff(s1, s2)).toBeLessThan(1e-5);
      expect(Math.abs((g1.value.dataSync()[0] as number) - (g2.value.dataSync()[0] as number))).toBeLessThan(1e-4);
      expect(Object.keys(g2.grads).sort()).toEqual(Object.keys(g1.grads).sort());
      for (const [key, g] of Object.entries(g1.grads)) {
        // float32 sums in another order: relative to the gradient's size.
        const scale = tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0] as number);
        expect(maxAbsDiff(g, g2.grads[key] as tf.Tensor), key).toBeLessThan(1e-5 * (1 + scale));
      }
      tf.dispose([g1.value, g1.grads, g2.value, g2.grads, s1, s2, x, m, cotangent, rows]);
      model.dispose();
    });
  }

  it("with LoRA dropout: the same seed gives the same states, another seed others", () => {
    const model = CausalLM.create(llama, { seed: 4, backbone: true });
    enableLora(
      model,
      parseLoraConfig({ r: 2, lora_alpha: 4, lora_dropout: 0.5, target_modules: ["q_proj", "up_proj"] }, "test"),
    );
    for (const v of model.trainableVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.3, "float32", 9));
    const [x, m] = [ids(), mask()];
    const run = (seed: number) => model.finalHiddenAt(x, m, [6, 3, 4], { training: { dropoutSeed: seed } });
    const [a, a2, c] = [run(1), run(1), run(2)];
    expect(maxAbsDiff(a, a2)).toBe(0);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
    tf.dispose([a, a2, c, x, m]);
    model.dispose();
  });

  it("encoding a batch in parts (inferenceRowsPerPass) gives the same states", () => {
    const model = CausalLM.create(llama, { seed: 4, backbone: true });
    const [x, m] = [ids(), mask()];
    const whole = model.finalHiddenAt(x, m, [6, 3, 4]);
    model.inferenceRowsPerPass = 2 * l; // two sequences a pass: parts of 2 and 1
    const parts = model.finalHiddenAt(x, m, [6, 3, 4]);
    expect(maxAbsDiff(whole, parts)).toBeLessThan(1e-6);
    tf.dispose([whole, parts, x, m]);
    model.dispose();
  });

  it("with recomputation it takes the full forward and gives the same states", () => {
    const model = CausalLM.create(llama, { seed: 4, backbone: true });
    const [x, m] = [ids(), mask()];
    const a = model.finalHiddenAt(x, m, [6, 3, 4]);
    const r = model.finalHiddenAt(x, m, [6, 3, 4], { recompute: true });
    expect(maxAbsDiff(a, r)).toBeLessThan(1e-5);
    tf.dispose([a, r, x, m]);
    model.dispose();
  });

  it("names a position outside the sequence and a wrong count", () => {
    const model = CausalLM.create(llama, { seed: 4, backbone: true });
    const [x, m] = [ids(), mask()];
    expect(() => model.finalHiddenAt(x, m, [1, 2, 7])).toThrow(
      "CausalLM.finalHiddenAt: positions[2] = 7 is outside [0, 7)",
    );
    expect(() => model.finalHiddenAt(x, m, [1, 2])).toThrow(
      "CausalLM.finalHiddenAt: positions must hold one position per sequence (3), got 2",
    );
    tf.dispose([x, m]);
    model.dispose();
  });
});
