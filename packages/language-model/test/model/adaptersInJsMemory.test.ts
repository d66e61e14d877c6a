import { initBackend, occupyWasmHeap, WasmHeapExhaustedError } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { isInJsMemory, moveToJsMemory } from "../../src/index.js";

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
