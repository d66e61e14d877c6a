import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend, occupyWasmHeap, WasmHeapExhaustedError } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CausalLM,
  canKeepInJsMemory,
  enableLora,
  isInJsMemory,
  loadPretrained,
  moveToJsMemory,
  parseLoraConfig,
  saveModel,
} from "../../src/index.js";

/*
 * Tensors kept in JavaScript memory (tfjs's cpu backend while wasm computes: the LoRA adapters of a
 * model with offloaded layers) come back into the heap when a kernel reads them. On a full heap that
 * move fails; the tensor must still hold its values afterwards, in JavaScript memory.
 */

let release: (() => void) | null = null;
afterEach(() => {
  release?.();
  release = null;
});

const SHAPE: [number, number] = [256, 256];

function values(seed: number): Float32Array {
  return Float32Array.from({ length: SHAPE[0] * SHAPE[1] }, (_, i) => Math.sin(seed + i * 0.37));
}

describe("a tensor kept in JavaScript memory on a full wasm heap", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("a kernel that reads it fails with WasmHeapExhaustedError and the tensor keeps its values, in JavaScript memory", () => {
    const expected = values(1);
    // tidy: tf.variable shares the data of its initial value, which must not outlive it.
    const v = tf.tidy(() => tf.variable(tf.tensor(expected, SHAPE)));
    expect(moveToJsMemory(v)).toBe(true);
    // 256 KiB to bring in, 64 KiB of room: the scalar fits, the variable does not.
    release = occupyWasmHeap(64 * 1024);
    let error: unknown;
    try {
      tf.tidy(() => tf.add(v, 1));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmHeapExhaustedError);
    expect((error as Error).message).toMatch(
      /^wasm heap exhausted: cannot allocate 256\.0 KiB for a float32 tensor \[256, 256\]/,
    );
    expect(isInJsMemory(v)).toBe(true);
    release();
    release = null;
    expect(Buffer.from((v.dataSync() as Float32Array).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // With room again, the same kernel brings it in and computes.
    const sum = tf.tidy(() => tf.add(v, 1));
    expect(isInJsMemory(v)).toBe(false);
    expect((sum.dataSync() as Float32Array)[3]).toBe(Math.fround((expected[3] as number) + 1));
    tf.dispose([sum, v]);
  });
});

describe("adapters kept in JavaScript memory, on the cpu backend", () => {
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
  const lora = parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: ["q_proj", "v_proj", "down_proj"] }, "test");
  let dir = "";
  beforeAll(async () => {
    await initBackend({ backend: "cpu" });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "adapters-cpu-"));
    const model = CausalLM.create(config, { seed: 5 });
    await saveModel(model, dir);
    model.dispose();
  });

  it("moving is a no-op: the cpu backend is JavaScript memory already", async () => {
    expect(canKeepInJsMemory()).toBe(false);
    const t = tf.tensor1d([1, 2, 3]);
    expect(moveToJsMemory(t)).toBe(false);
    expect(isInJsMemory(t)).toBe(false);
    t.dispose();
    const model = await loadPretrained(dir, { offloadLayers: true });
    enableLora(model, lora, { seed: 6 });
    expect(model.keepAdaptersInJsMemory).toBe(true);
    expect(model.adaptersInJsMemory).toBe(false);
    expect(model.moveAdaptersToJsMemory()).toBe(0);
    expect(model.adaptersOutsideHeap()).toBe(0);
    model.dispose();
  });

  it("keepAdaptersInJsMemory takes true or false only, naming the field and the value", () => {
    const model = CausalLM.create(config, { seed: 5 });
    model.keepAdaptersInJsMemory = false;
    expect(model.keepAdaptersInJsMemory).toBe(false);
    const set = (value: unknown) => () => {
      model.keepAdaptersInJsMemory = value as boolean;
    };
    expect(set("false")).toThrow('CausalLM.keepAdaptersInJsMemory must be true or false, got "false"');
    expect(set(1)).toThrow("CausalLM.keepAdaptersInJsMemory must be true or false, got 1");
    expect(set(undefined)).toThrow("CausalLM.keepAdaptersInJsMemory must be true or false, got undefined");
    expect(model.keepAdaptersInJsMemory).toBe(false);
    model.dispose();
  });
});
