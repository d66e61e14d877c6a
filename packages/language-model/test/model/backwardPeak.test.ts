import {
  frugalVariableGrads,
  initBackend,
  recomputeInBackward,
  resetWasmTensorPeak,
  siluGate,
  tfSeed,
  wasmTensorBytes,
} from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { CausalLM, enableLora, parseLoraConfig } from "../../src/index.js";
import { HEAD_SLICE_ROWS, keepsHeadProbabilities } from "../../src/model/headSlice.js";

/**
 * What a training step holds in flight in backward (issue 15): a recomputed layer piece's own
 * backward runs frugally (@revela/kernels' recomputeInBackward, its default) instead of under tfjs's engine.gradients, and the LM
 * head's loss runs over vocabulary slices of HEAD_SLICE_ROWS rows.
 */

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

/** An MLP piece as a decoder layer's: LoRA with seeded dropout on gate, up and down; residual. */
function mlpPiece(w: Record<string, tf.Tensor>, adapters: Record<string, tf.Variable>) {
  const lora = (x: tf.Tensor, name: string, seed: number) =>
    tf.add(
      tf.matMul(x, w[name] as tf.Tensor, false, true),
      tf.matMul(
        tf.mul(
          tf.matMul(tf.dropout(x, 0.1, undefined, tfSeed(seed)), adapters[`${name}A`] as tf.Tensor, false, true),
          2,
        ),
        adapters[`${name}B`] as tf.Tensor,
        false,
        true,
      ),
    );
  return (x: tf.Tensor): tf.Tensor[] => [tf.add(x, lora(siluGate(lora(x, "gate", 1), lora(x, "up", 2)), "down", 3))];
}

describe("backward in flight on the wasm heap", () => {
  it("a recomputed piece's backward runs frugally: the gradients of engine.gradients, bit for bit, at a lower peak", () => {
    // [512, 64] rows through a 512-wide MLP with r 32 adapters: the piece's intermediates are
    // [512, 512] (1 MiB each) and the backward of engine.gradients holds them all with their gradients.
    const [n, d, ffn, r] = [512, 64, 512, 32];
    const random = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 0.1, "float32", seed);
    const w = { gate: random([ffn, d], 1), up: random([ffn, d], 2), down: random([d, ffn], 3) };
    const adapters = {
      gateA: tf.variable(random([r, d], 4)),
      gateB: tf.variable(random([ffn, r], 5)),
      upA: tf.variable(random([r, d], 6)),
      upB: tf.variable(random([ffn, r], 7)),
      downA: tf.variable(random([r, ffn], 8)),
      downB: tf.variable(random([d, r], 9)),
    };
    const input = random([n, d], 10);
    const vars = Object.values(adapters);
    const step = (backward: "frugal" | "engine") => {
      resetWasmTensorPeak();
      const before = wasmTensorBytes().live;
      const { value, grads } = frugalVariableGrads(() => {
        const [y] = recomputeInBackward(mlpPiece(w, adapters), [input], vars, { backward });
        return tf.sum(tf.square(y as tf.Tensor)) as tf.Scalar;
      }, vars);
      const peak = wasmTensorBytes().peak - before;
      const out = {
        loss: value.dataSync()[0] as number,
        grads: vars.map((v) => (grads[v.name] as tf.Tensor).dataSync().slice()),
        peak,
      };
      tf.dispose([value, grads]);
      return out;
    };
    const stock = step("engine");
    const frugal = step("frugal");
    expect(frugal.loss).toBe(stock.loss);
    for (const [i, g] of frugal.grads.entries()) expect(g, `gradient ${i}`).toEqual(stock.grads[i]);
    // Measured: 26.5 MiB under engine.gradients, 16.1 MiB frugally.
    expect(frugal.peak).toBeLessThan(0.75 * stock.peak);
    tf.dispose([...Object.values(w), ...vars, input]);
  });

  it("the LM head's loss holds one slice of HEAD_SLICE_ROWS vocabulary rows at a time in backward", () => {
    // A 262,144-token vocabulary over 256 rows (past keepsHeadProbabilities: the loss
    // recomputes its softmax): about six [256, slice] tensors at once in backward, measured 6.3 ×
    // [256, 4,096] in all with a 16,384-token vocabulary, 12.3 × with 8,192-row slices.
    expect(HEAD_SLICE_ROWS).toBe(4096);
    expect(keepsHeadProbabilities(8, 32, 262144)).toBe(false);
    const config = {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: 262144,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 64,
    };
    const model = CausalLM.create(config, { seed: 3 });
    enableLora(model, parseLoraConfig({ r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"] }, "test"));
    const [b, l] = [8, 32];
    const ids = tf.tensor2d(
      Int32Array.from({ length: b * l }, (_, i) => (i * 7919) % config.vocab_size),
      [b, l],
      "int32",
    );
    const mask = tf.onesLike(ids);
    resetWasmTensorPeak();
    const before = wasmTensorBytes().live;
    const { value, grads } = frugalVariableGrads(
      () => model.forward(ids, mask, { computeLoss: true, returnLogits: false }).loss as tf.Scalar,
      model.trainableVariables(),
    );
    const peak = wasmTensorBytes().peak - before;
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    tf.dispose([value, grads, ids, mask]);
    model.dispose();
    const sliceBytes = b * l * HEAD_SLICE_ROWS * 4;
    expect(peak).toBeGreaterThan(4 * sliceBytes);
    expect(peak).toBeLessThan(8 * sliceBytes);
  });
});
