import {
  initBackend,
  occupyWasmHeap,
  resetWasmTensorPeak,
  WasmHeapExhaustedError,
  wasmTensorBytes,
} from "@revela/kernels";
import { isInJsMemory, moveToJsMemory } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { SeededRandom } from "../../src/data/seededRandom.js";
import { AdamW } from "../../src/optim/adamW.js";
import { assignFromRecords } from "../../src/run/checkpointData.js";

/*
 * The point of host-side moments: on wasm the optimizer state must not need heap. Eight [256, 256]
 * parameters (2 MiB) with their gradients are allocated, then the heap is filled around a 512 KiB
 * hole (occupyWasmHeap). Moments on the device (4 MiB) cannot be allocated there; on the host the
 * optimizer updates every parameter inside the hole — one parameter's new copy (256 KiB) at a time —
 * and gives the same bits as the device path on an empty heap.
 */

let release: (() => void) | null = null;
afterEach(() => {
  release?.();
  release = null;
});

const SHAPE: [number, number] = [256, 256];

function filled(seed: string, scale: number): Float32Array {
  const rng = SeededRandom.fromSeed(seed);
  return Float32Array.from({ length: SHAPE[0] * SHAPE[1] }, () => (rng.float() * 2 - 1) * scale);
}

function setup(): { params: tf.Variable[]; grads: tf.NamedTensorMap } {
  // tidy: tf.variable shares the data of its initial value, which must not outlive it.
  const params = Array.from({ length: 8 }, (_, i) => tf.tidy(() => tf.variable(tf.tensor(filled(`p${i}`, 1), SHAPE))));
  const grads: tf.NamedTensorMap = {};
  params.forEach((p, i) => {
    grads[p.name] = tf.tensor(filled(`g${i}`, 0.1), SHAPE);
  });
  return { params, grads };
}

describe("AdamW on a full wasm heap", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("updates with its moments on the host where moments on the device do not fit, bit for bit as on the device", () => {
    const reference = setup();
    const onDevice = new AdamW(reference.params, { lr: 1e-2, state: "device" });
    onDevice.step(reference.grads);
    onDevice.step(reference.grads);
    const expected = reference.params.map((p) => (p.dataSync() as Float32Array).slice());
    onDevice.dispose();
    tf.dispose([...reference.params, ...Object.values(reference.grads)]);

    const { params, grads } = setup();
    const tensors = tf.memory().numTensors;
    release = occupyWasmHeap(512 * 1024);
    let error: unknown;
    try {
      new AdamW(params, { lr: 1e-2, state: "device" }).dispose();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmHeapExhaustedError);
    // The failed constructor left nothing behind.
    expect(tf.memory().numTensors).toBe(tensors);
    const onHost = new AdamW(params, { lr: 1e-2 });
    onHost.step(grads);
    onHost.step(grads);
    release();
    release = null;
    params.forEach((p, i) => {
      const got = Buffer.from((p.dataSync() as Float32Array).buffer);
      expect(got.equals(Buffer.from((expected[i] as Float32Array).buffer)), `parameter ${i}`).toBe(true);
    });
    onHost.dispose();
    tf.dispose([...params, ...Object.values(grads)]);
  });

  it("leaves a parameter kept in JavaScript memory there after each update (moments on the host or the device), bit for bit as one in the heap", () => {
    // LoRA adapters of a model with offloaded layers live in tfjs's cpu backend between uses
    // (@revela/language-model's CausalLM.adaptersInJsMemory); an update must not bring them back.
    for (const state of ["host", "device"] as const) {
      const reference = setup();
      const inHeap = new AdamW(reference.params, { lr: 1e-2, weightDecay: 0.1, state });
      inHeap.step(reference.grads);
      inHeap.step(reference.grads);
      const expected = reference.params.map((p) => (p.dataSync() as Float32Array).slice());
      inHeap.dispose();
      tf.dispose([...reference.params, ...Object.values(reference.grads)]);

      const { params, grads } = setup();
      for (const p of params) expect(moveToJsMemory(p)).toBe(true);
      const optimizer = new AdamW(params, { lr: 1e-2, weightDecay: 0.1, state });
      const live = wasmTensorBytes().live;
      optimizer.step(grads);
      optimizer.step(grads);
      for (const [i, p] of params.entries()) {
        expect(isInJsMemory(p), `${state}: parameter ${i} in JavaScript memory`).toBe(true);
        const got = Buffer.from((p.dataSync() as Float32Array).buffer);
        expect(got.equals(Buffer.from((expected[i] as Float32Array).buffer)), `${state}: parameter ${i}`).toBe(true);
      }
      // Nothing of the 2 MiB of parameters came back into the heap.
      expect(wasmTensorBytes().live).toBe(live);
      optimizer.dispose();
      tf.dispose([...params, ...Object.values(grads)]);
    }
  });

  it("a parameter kept in JavaScript memory that a full heap cannot take back keeps its values: the step throws WasmHeapExhaustedError", () => {
    const expected = filled("p0", 1);
    const param = tf.tidy(() => tf.variable(tf.tensor(expected, SHAPE)));
    const grad = tf.tensor(filled("g0", 0.1), SHAPE);
    const optimizer = new AdamW([param], { lr: 1e-2, weightDecay: 0.1, state: "device" });
    expect(moveToJsMemory(param)).toBe(true);
    // Room for the moments' update (seven [256, 256] results, 1.75 MiB) but not for the parameter
    // too: unguarded, the kernel reading it after them would move it in and fail half way.
    release = occupyWasmHeap(7.5 * 256 * 1024);
    let error: unknown;
    try {
      optimizer.step({ [param.name]: grad });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmHeapExhaustedError);
    release();
    release = null;
    const got = Buffer.from((param.dataSync() as Float32Array).buffer);
    expect(got.equals(Buffer.from(expected.buffer)), "the parameter's values").toBe(true);
    optimizer.dispose();
    tf.dispose([param, grad]);
  });

  it("moves a parameter back only to JavaScript memory while wasm computes: one left in wasm under the cpu backend stays where the update put it", async () => {
    const engine = tf.engine() as unknown as { state: { tensorInfo: Map<object, { backend: tf.KernelBackend }> } };
    const holder = (t: tf.Tensor) => engine.state.tensorInfo.get(t.dataId)?.backend;
    for (const state of ["host", "device"] as const) {
      const { params, grads } = setup();
      const optimizer = new AdamW(params, { lr: 1e-2, state });
      await tf.setBackend("cpu");
      try {
        const wasm = tf.findBackend("wasm");
        expect(params.every((p) => holder(p) === wasm)).toBe(true);
        optimizer.step(grads);
        for (const [i, p] of params.entries()) {
          expect(holder(p) === tf.findBackend("cpu"), `${state}: parameter ${i} in the active cpu backend`).toBe(true);
        }
      } finally {
        await tf.setBackend("wasm");
      }
      optimizer.dispose();
      tf.dispose([...params, ...Object.values(grads)]);
    }
  });

  it("a resumed checkpoint assigns each parameter kept in JavaScript memory where it was: the heap holds one at a time", () => {
    const { params, grads } = setup();
    for (const p of params) expect(moveToJsMemory(p)).toBe(true);
    const records = Object.fromEntries(
      params.map((_, i) => [`p${i}`, { shape: [...SHAPE], data: filled(`resumed${i}`, 1) }]),
    );
    const variables = Object.fromEntries(params.map((p, i) => [`p${i}`, p]));
    resetWasmTensorPeak();
    const live = wasmTensorBytes().live;
    assignFromRecords(variables, records);
    // One [256, 256] parameter's new value (256 KiB) at a time, not the 2 MiB of all eight.
    expect(wasmTensorBytes().peak - live).toBeLessThanOrEqual(256 * 1024);
    expect(wasmTensorBytes().live).toBe(live);
    for (const [i, p] of params.entries()) {
      expect(isInJsMemory(p), `parameter ${i} in JavaScript memory`).toBe(true);
      const want = (records[`p${i}`] as { data: Float32Array }).data;
      expect(
        Buffer.from((p.dataSync() as Float32Array).buffer).equals(Buffer.from(want.buffer)),
        `parameter ${i}`,
      ).toBe(true);
    }
    tf.dispose([...params, ...Object.values(grads)]);
  });
});
