import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  frugalVariableGrads,
  initBackend,
  occupyWasmHeap,
  resetWasmTensorPeak,
  WasmHeapExhaustedError,
  wasmHeapBytes,
  wasmTensorBytes,
} from "../src/index.js";

/*
 * A full wasm heap at small scale: occupyWasmHeap grows the heap to its 4 GiB maximum with blocks
 * it never writes (so the test touches little memory) and leaves a 512 KiB hole. Before the guard,
 * tfjs-backend-wasm took malloc's 0 as the address of the tensor that did not fit and wrote over
 * the start of the heap — the garbage token index and the "table index is out of bounds" trap of
 * issue 15. Each case checks the error and then that the backend computes correctly afterwards.
 */

const HOLE = 512 * 1024;
let release: (() => void) | null = null;

afterEach(() => {
  release?.();
  release = null;
});

describe("wasm heap exhaustion", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("an input tensor that does not fit is an error naming its dtype, shape and the heap — not garbage ids", () => {
    const ids = new Int32Array(1024 * 1024).map((_, i) => i % 1000);
    release = occupyWasmHeap(HOLE);
    let error: unknown;
    try {
      tf.tensor2d(ids, [1024, 1024], "int32");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmHeapExhaustedError);
    const message = (error as Error).message;
    expect(message).toContain("cannot allocate 4.0 MiB for a int32 tensor [1024, 1024]");
    expect(message).toMatch(/the heap has grown to \d\.\d\d GiB of its 4\.00 GiB maximum/);
    expect((error as WasmHeapExhaustedError).heapBytes).toBe(wasmHeapBytes());
    release();
    release = null;
    // The failed allocation wrote nothing: the same ids now load and gather exactly.
    const table = tf.range(0, 1000, 1, "float32");
    const picked = tf.gather(table, tf.tensor1d(ids.subarray(0, 4096), "int32"));
    expect(Array.from(picked.dataSync())).toEqual(Array.from(ids.subarray(0, 4096)));
    tf.dispose([table, picked]);
  });

  it("a kernel output that does not fit is an error naming the output's shape; the inputs survive", () => {
    const a = tf.fill([1024, 1024], 1.5);
    release = occupyWasmHeap(HOLE);
    expect(() => tf.add(a, a)).toThrow(/cannot allocate 4\.0 MiB for a float32 tensor \[1024, 1024\]/);
    release();
    release = null;
    const sum = tf.add(a, a);
    expect(sum.dataSync().every((v) => v === 3)).toBe(true);
    tf.dispose([a, sum]);
  });

  it("XNNPACK's packing of a matMul operand that does not fit is an error, not an uninitialised product", () => {
    const a = tf.fill([8, 1024], 0.5);
    const b = tf.fill([1024, 1024], 0.25);
    release = occupyWasmHeap(HOLE);
    // The [8, 1024] product fits in the hole; XNNPACK's 4 MiB packed copy of b does not.
    expect(() => tf.matMul(a, b)).toThrow(
      /cannot allocate 4\.\d+ MiB for XNNPACK's packed copy of the right operand \[1024, 1024\]/,
    );
    release();
    release = null;
    const product = tf.matMul(a, b);
    expect(product.dataSync().every((v) => Math.abs(v - 128) < 1e-3)).toBe(true);
    tf.dispose([a, b, product]);
  });

  it("counts tensor buffers once each, however many handles (clones) share them, with the peak", () => {
    const start = wasmTensorBytes().live;
    resetWasmTensorPeak();
    const a = tf.zeros([1024, 256]);
    const clones = [tf.clone(a), tf.clone(a)];
    // tf.clone shares the buffer on wasm too (tfjs keeps what backward needs as clones).
    expect(wasmTensorBytes().live - start).toBe(1024 * 1024);
    const b = tf.add(a, a);
    tf.dispose([a, clones[0] as tf.Tensor]);
    expect(Array.from((clones[1] as tf.Tensor).dataSync().subarray(0, 3))).toEqual([0, 0, 0]);
    tf.dispose([clones[1] as tf.Tensor, b]);
    expect(wasmTensorBytes()).toEqual({ live: start, peak: start + 2 * 1024 * 1024 });
  });

  it("counts buffers above 2 GiB too (malloc returns their addresses as negative int32s)", () => {
    const backend = tf.backend() as unknown as {
      makeOutput(shape: number[], dtype: string): { dataId: object };
      disposeData(dataId: object): void;
      dataIdMap: { get(dataId: object): { memoryOffset: number } };
    };
    const start = wasmTensorBytes().live;
    // 2.25 GiB of buffers the test never writes, so that the next tensor lies above 2 GiB.
    const ballast = Array.from({ length: 9 }, () => backend.makeOutput([64 * 2 ** 20], "float32"));
    const high = tf.zeros([16 * 2 ** 20]); // 64 MiB: too big for any hole below the ballast
    expect(backend.dataIdMap.get(high.dataId).memoryOffset).toBeGreaterThan(2 ** 31);
    const live = wasmTensorBytes().live;
    high.dispose();
    expect(live - wasmTensorBytes().live).toBe(64 * 2 ** 20);
    for (const b of ballast) backend.disposeData(b.dataId);
    expect(wasmTensorBytes().live).toBe(start);
  });

  it("a training step that runs out of heap fails with the error and leaves the backend usable", () => {
    const w = tf.variable(tf.fill([256, 1024], 0.01));
    const x = tf.fill([64, 256], 1);
    const loss = (): tf.Scalar => tf.sum(tf.square(tf.matMul(x, w)));
    const before = tf.tidy(() =>
      tf
        .grad((v: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, v))))(w)
        .dataSync(),
    );
    release = occupyWasmHeap(HOLE);
    expect(() => tf.tidy(() => tf.variableGrads(loss))).toThrow(WasmHeapExhaustedError);
    release();
    release = null;
    const after = tf.tidy(() =>
      tf
        .grad((v: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, v))))(w)
        .dataSync(),
    );
    expect(Array.from(after)).toEqual(Array.from(before));
    tf.dispose([w, x]);
  });

  it("frugalVariableGrads whose forward runs out of heap frees what it had saved for backward", () => {
    const w = tf.variable(tf.fill([256, 256], 0.01));
    const x = tf.fill([64, 256], 1);
    // Four products: each saves its input before the next one needs room.
    const loss = (): tf.Scalar => {
      let h: tf.Tensor = x;
      for (let i = 0; i < 4; i++) h = tf.tanh(tf.matMul(h, w));
      return tf.sum(h);
    };
    const live = wasmTensorBytes().live;
    release = occupyWasmHeap(HOLE);
    expect(() => frugalVariableGrads(loss, [w])).toThrow(WasmHeapExhaustedError);
    release();
    release = null;
    expect(wasmTensorBytes().live).toBe(live);
    tf.dispose([w, x]);
  });
});
