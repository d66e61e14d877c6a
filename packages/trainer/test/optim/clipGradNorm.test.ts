import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { clipGradNorm } from "../../src/optim/clipGradNorm.js";
import { GradientAccumulator } from "../../src/optim/gradientAccumulator.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

describe("clipGradNorm", () => {
  it("returns the global L2 norm and scales every gradient by maxNorm / (norm + 1e-6) when above it", () => {
    const grads: tf.NamedTensorMap = { a: tf.tensor([3, 0]), b: tf.tensor([[4]]) };
    const original = grads.a!;
    const norm = clipGradNorm(grads, 1);
    expect(norm).toBeCloseTo(5, 6);
    expect(original.isDisposed).toBe(true);
    const coef = 1 / (5 + 1e-6);
    expect([...grads.a!.dataSync()]).toEqual([Math.fround(3 * coef), 0]);
    expect(grads.b!.dataSync()[0]).toBeCloseTo(4 * coef, 6);
    expect(grads.b!.shape).toEqual([1, 1]);
    tf.dispose(Object.values(grads));
  });

  it("leaves gradients under the limit, and non-finite ones, untouched", () => {
    const small: tf.NamedTensorMap = { a: tf.tensor([0.3, 0.4]) };
    const a = small.a;
    expect(clipGradNorm(small, 1)).toBeCloseTo(0.5, 6);
    expect(small.a).toBe(a);
    const bad: tf.NamedTensorMap = { a: tf.tensor([Number.NaN, 1]) };
    expect(clipGradNorm(bad, 1)).toBeNaN();
    expect(bad.a!.dataSync()[1]).toBe(1);
    expect(() => clipGradNorm(small, 0)).toThrow(/maxNorm must be a positive finite number, got 0/);
    tf.dispose([...Object.values(small), ...Object.values(bad)]);
  });
});

describe("GradientAccumulator", () => {
  it("averages gradients over micro-batches, holding its sums off the device, and starts over after reset", () => {
    const acc = new GradientAccumulator();
    const g1 = { w: tf.tensor([1, 2]), b: tf.tensor([10]) };
    const g2 = { w: tf.tensor([3, 6]), b: tf.tensor([20]) };
    const before = tf.memory().numTensors;
    acc.add(g1);
    acc.add(g2);
    expect(tf.memory().numTensors).toBe(before);
    expect(acc.count).toBe(2);
    const mean = acc.average();
    expect([...mean.w!.dataSync()]).toEqual([2, 4]);
    expect([...mean.b!.dataSync()]).toEqual([15]);
    expect(g1.w.isDisposed).toBe(false);
    expect(tf.memory().numTensors).toBe(before + 2);
    acc.reset();
    expect(() => acc.average()).toThrow(/no gradients added since the last reset/);
    acc.add(g2);
    expect([...acc.average().w!.dataSync()]).toEqual([3, 6]);
    acc.dispose();
  });

  it("sums and divides in float32 exactly as tf.add and tf.div do", () => {
    const acc = new GradientAccumulator();
    const n = 3;
    const parts = Array.from({ length: n }, (_, k) =>
      tf.tensor(Float32Array.from({ length: 257 }, (_, i) => Math.sin(i * 12.9898 + k) * 10 ** ((i % 9) - 4))),
    );
    for (const g of parts) acc.add({ g });
    const expected = tf.tidy(() =>
      tf.div(
        parts.slice(1).reduce((s, g) => tf.add(s, g), parts[0]!),
        n,
      ),
    );
    const mean = acc.average();
    expect(Buffer.from(mean.g!.dataSync().buffer).equals(Buffer.from(expected.dataSync().buffer))).toBe(true);
    // A float64 sum would differ from the float32 one somewhere in 257 values of mixed scales.
    const f64 = Array.from({ length: 257 }, (_, i) => parts.reduce((s, g) => s + (g.dataSync()[i] as number), 0) / n);
    expect(f64.some((x, i) => Math.fround(x) !== expected.dataSync()[i])).toBe(true);
    acc.dispose();
    tf.dispose([...parts, expected, mean.g!]);
  });

  it("rejects micro-batches whose gradients differ in names or shapes", () => {
    const acc = new GradientAccumulator();
    acc.add({ w: tf.zeros([2]) });
    expect(() => acc.add({ w: tf.zeros([3]) })).toThrow(
      /gradient "w" of micro-batch 1 has shape \[3\], earlier ones \[2\]/,
    );
    expect(() => acc.add({ v: tf.zeros([2]) })).toThrow(/micro-batch 1 has gradient "v", the first had only w/);
    expect(() => acc.add({ w: tf.zeros([2]), v: tf.zeros([1]) })).toThrow(/has gradient "v"/);
    acc.dispose();
  });
});
