import { initBackend, occupyWasmHeap, WasmHeapExhaustedError } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { CausalLM, enableLora, parseLoraConfig } from "../../src/index.js";

/*
 * Issue 15 at small scale. Evaluating the untrained retriever of a Qwen2.5-0.5B-shape model failed
 * with "GatherV2: the index value 1316838827 is not in [0, 151935]", and a SmolLM2-135M shape with
 * the WebAssembly trap "table index is out of bounds": the 4 GiB heap was full, tfjs-backend-wasm
 * took malloc's 0 as a tensor's address and wrote over the start of the heap. Here the heap is
 * filled around a small hole (occupyWasmHeap; the blocks are never written) so that a tiny model's
 * pass runs out of room; without @revela/kernels' heap guard this test hangs or computes garbage.
 */

const config = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 300,
  hidden_size: 64,
  intermediate_size: 256,
  num_hidden_layers: 8,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
};

let release: (() => void) | null = null;
afterEach(() => {
  release?.();
  release = null;
});

function inputs(b: number, l: number): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  const ids = Int32Array.from({ length: b * l }, (_, i) => (i * 7919) % config.vocab_size);
  return { ids: tf.tensor2d(ids, [b, l], "int32"), mask: tf.ones([b, l], "int32") as tf.Tensor2D };
}

describe("a model pass on a full wasm heap", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("fails with an error naming the tensor and the heap, and the model's weights are intact afterwards", () => {
    const model = CausalLM.create(config, { seed: 3, backbone: true });
    enableLora(model, parseLoraConfig({ r: 8, lora_alpha: 16, target_modules: ["q_proj", "v_proj"] }, "test"), {
      seed: 4,
    });
    const { ids, mask } = inputs(8, 64);
    const encode = () =>
      tf.tidy(() => model.forward(ids, mask, { returnLogits: false }).lastHiddenState.dataSync().slice());
    const before = encode();
    // The ids fit in the hole; the first layer's activations ([512, 256] floats, 512 KiB) do not.
    release = occupyWasmHeap(256 * 1024);
    let error: unknown;
    try {
      encode();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmHeapExhaustedError);
    expect((error as Error).message).toMatch(
      /^wasm heap exhausted: cannot allocate [\d.]+ [KM]iB for a float32 tensor \[\d+(, \d+)*\]; the heap has grown to [\d.]+ GiB of its 4\.00 GiB maximum/,
    );
    release();
    release = null;
    expect(Array.from(encode())).toEqual(Array.from(before));
    tf.dispose([ids, mask]);
    model.dispose();
  });

  it("a large encoding batch runs a few sequences at a time, with the same states, in a heap the whole batch does not fit", () => {
    const model = CausalLM.create(config, { seed: 7, backbone: true });
    const { ids, mask } = inputs(16, 64);
    const encode = () =>
      tf.tidy(() => model.forward(ids, mask, { returnLogits: false }).lastHiddenState.dataSync().slice());
    const whole = encode();
    model.inferenceRowsPerPass = 128; // two sequences a pass
    const inParts = encode();
    let worst = 0;
    for (let i = 0; i < whole.length; i++)
      worst = Math.max(worst, Math.abs((whole[i] as number) - (inParts[i] as number)));
    expect(worst).toBeLessThan(1e-6);
    release = occupyWasmHeap(2 * 2 ** 20);
    expect(encode().length).toBe(whole.length);
    model.inferenceRowsPerPass = 2048;
    expect(() => encode()).toThrow(WasmHeapExhaustedError);
    release();
    release = null;
    tf.dispose([ids, mask]);
    model.dispose();
  });

  it("an inference pass holds one layer's activations, not every layer's", () => {
    const model = CausalLM.create(config, { seed: 5, backbone: true });
    const { ids, mask } = inputs(8, 64);
    const encode = () =>
      tf.tidy(() => model.forward(ids, mask, { returnLogits: false }).lastHiddenState.dataSync().slice());
    const before = encode();
    // One layer of 512 tokens needs a few MiB (attention scores [8, 4, 64, 64] and the MLP's
    // [512, 256] tensors); all eight layers' intermediates together need about 20 MiB.
    release = occupyWasmHeap(8 * 2 ** 20);
    const within = encode();
    release();
    release = null;
    expect(Array.from(within)).toEqual(Array.from(before));
    tf.dispose([ids, mask]);
    model.dispose();
  });
});
