import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { IGNORE_INDEX, tokenCrossEntropy } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { float64TokenCrossEntropy } from "../support/float64Ops.js";
import { seededValues, size } from "../support/reference.js";

interface Case {
  name: string;
  logitsShape: number[];
  labels: number[];
}

const cases: Case[] = [
  {
    name: "[B, L, V] with ignored labels",
    logitsShape: [2, 5, 11],
    labels: [3, 0, 10, -100, 7, 1, -100, -100, 5, 10],
  },
  { name: "[N, V], no ignored label", logitsShape: [6, 7], labels: [0, 6, 2, 2, 5, 1] },
  { name: "[V] with a scalar label", logitsShape: [9], labels: [4] },
];

const vocab = (shape: readonly number[]) => shape[shape.length - 1]!;

/** Loss and logits gradient of tokenCrossEntropy, the loss scaled by `cotangent` before differentiating. */
function lossAndGrad(logits: Float32Array, shape: number[], labels: number[], cotangent = 1) {
  const labelTensor = tf.tensor(labels, shape.slice(0, -1), "int32");
  const loss = tf.tidy(() => tokenCrossEntropy(tf.tensor(logits, shape), labelTensor));
  expect(loss.shape).toEqual([]);
  const value = loss.dataSync()[0]!;
  const [grad] = tfVjp((x) => tokenCrossEntropy(x, labelTensor), [{ values: logits, shape }], {
    values: [cotangent],
    shape: [],
  });
  tf.dispose([loss, labelTensor]);
  return { value, grad: grad! };
}

describeEachBackend("tokenCrossEntropy", () => {
  for (const c of cases) {
    it(`${c.name}: loss matches float64`, () => {
      const logits = seededValues(c.logitsShape, 1, 3);
      const { value } = lossAndGrad(logits, c.logitsShape, c.labels);
      const ref = float64TokenCrossEntropy(logits, c.labels, vocab(c.logitsShape));
      expect(ref).toBeGreaterThan(0.5);
      expect(Math.abs(value - ref) / ref).toBeLessThan(1e-5);
    });

    it(`${c.name}: gradient for logits matches finite differences (loss scaled by 1.7)`, () => {
      const logits = seededValues(c.logitsShape, 2, 3);
      const { grad } = lossAndGrad(logits, c.logitsShape, c.labels, 1.7);
      const [numeric] = finiteDifferenceVjp(
        ([x]) => [float64TokenCrossEntropy(x!, c.labels, vocab(c.logitsShape))],
        [logits],
        [1.7],
      );
      expect(maxAbs(numeric!)).toBeGreaterThan(1e-2);
      expect(scaledMaxError(grad, numeric!)).toBeLessThan(1e-3);
      // Rows with an ignored label get exactly no gradient.
      const v = vocab(c.logitsShape);
      c.labels.forEach((y, i) => {
        if (y === IGNORE_INDEX) expect(maxAbs(grad.subarray(i * v, (i + 1) * v)), `row ${i}`).toBe(0);
      });
    });
  }

  it("averages over real tokens only: ignoring labels changes the denominator", () => {
    const shape = [4, 5];
    const logits = seededValues(shape, 3, 2);
    const full = lossAndGrad(logits, shape, [1, 2, 3, 4]).value;
    const half = lossAndGrad(logits, shape, [1, 2, -100, -100]).value;
    const ref = float64TokenCrossEntropy(logits, [1, 2, -100, -100], 5);
    expect(Math.abs(half - ref)).toBeLessThan(1e-5);
    expect(Math.abs(half - full)).toBeGreaterThan(1e-3);
  });

  it("stays finite with logits offset by ±1e4 and equals the loss of the shifted logits", () => {
    const shape = [2, 3, 11];
    const labels = [0, 4, -100, 10, 7, 2];
    const v = 11;
    const base = seededValues(shape, 4, 3);
    const big = new Float32Array(base.length);
    const offsets = [1e4, -1e4, 2e4, -2e4, 1e4, -1e4];
    for (let r = 0; r < 6; r++) for (let j = 0; j < v; j++) big[r * v + j] = base[r * v + j]! + offsets[r]!;
    const { value, grad } = lossAndGrad(big, shape, labels);
    expect(Number.isFinite(value)).toBe(true);
    expect(grad.every(Number.isFinite)).toBe(true);
    // Exact in float64 for the float32 values the op sees…
    const onInputs = float64TokenCrossEntropy(big, labels, v);
    expect(Math.abs(value - onInputs)).toBeLessThan(1e-4);
    // …and, as softmax is shift-invariant, equal to the loss of the unshifted logits up to the
    // float32 rounding of base + 2e4 (an ulp of 2e4 is ~2e-3).
    expect(Math.abs(value - float64TokenCrossEntropy(base, labels, v))).toBeLessThan(5e-3);
    const [numeric] = finiteDifferenceVjp(([x]) => [float64TokenCrossEntropy(x!, labels, v)], [big], [1]);
    expect(scaledMaxError(grad, numeric!)).toBeLessThan(1e-3);
    expect(maxAbs(grad)).toBeGreaterThan(1e-2);
  });

  it("returns 0 with a zero gradient when every label is ignored", () => {
    const shape = [2, 3, 5];
    const logits = seededValues(shape, 5, 3);
    const { value, grad } = lossAndGrad(logits, shape, [-100, -100, -100, -100, -100, -100]);
    expect(value).toBe(0);
    expect(grad).toHaveLength(size(shape));
    expect(grad.every((g) => g === 0)).toBe(true);
  });

  it("handles the last class (label V − 1) of the smallest vocabulary, V = 2", () => {
    const shape = [3, 2];
    const labels = [1, 0, 1];
    const logits = seededValues(shape, 6, 3);
    const { value, grad } = lossAndGrad(logits, shape, labels);
    expect(Math.abs(value - float64TokenCrossEntropy(logits, labels, 2))).toBeLessThan(1e-5);
    const [numeric] = finiteDifferenceVjp(([x]) => [float64TokenCrossEntropy(x!, labels, 2)], [logits], [1]);
    expect(scaledMaxError(grad, numeric!)).toBeLessThan(1e-3);
  });

  it("differentiates a one-class vocabulary (V = 1): loss 0, gradient 0", () => {
    const shape = [4, 1];
    const logits = seededValues(shape, 8, 3);
    const { value, grad } = lossAndGrad(logits, shape, [0, 0, -100, 0]);
    expect(Math.abs(value)).toBeLessThan(1e-7);
    expect(grad.every((g) => Math.abs(g) < 1e-7)).toBe(true);
  });

  it("names the op, the tensor and the shapes on bad dtypes, shapes and label values", () => {
    const logits = tf.zeros([2, 5, 11]);
    const labelsF = tf.zeros([2, 5], "float32");
    expect(() => tokenCrossEntropy(logits, labelsF)).toThrow(/tokenCrossEntropy.*labels.*int32.*float32.*\[2, 5\]/);
    const logitsI = tf.zeros([2, 5, 11], "int32");
    const labels = tf.zeros([2, 5], "int32");
    expect(() => tokenCrossEntropy(logitsI, labels)).toThrow(/tokenCrossEntropy.*logits.*float32.*int32.*\[2, 5, 11\]/);
    const labelsShort = tf.zeros([2, 4], "int32");
    expect(() => tokenCrossEntropy(logits, labelsShort)).toThrow(
      /tokenCrossEntropy.*labels.*\[2, 5\].*\[2, 5, 11\].*got \[2, 4\]/,
    );
    const labelsFlat = tf.zeros([10], "int32");
    expect(() => tokenCrossEntropy(logits, labelsFlat)).toThrow(/tokenCrossEntropy.*labels.*\[2, 5\].*got \[10\]/);
    const outOfRange = tf.tensor([0, 1, 2, 11, 0, 0, 0, 0, 0, 0], [2, 5], "int32");
    expect(() => tokenCrossEntropy(logits, outOfRange)).toThrow(/tokenCrossEntropy.*labels\[3\].*11.*\[0, 11\)/);
    const negative = tf.tensor([0, -1, 0, 0, 0, 0, 0, 0, 0, 0], [2, 5], "int32");
    expect(() => tokenCrossEntropy(logits, negative)).toThrow(/tokenCrossEntropy.*labels\[1\].*-1/);
    const scalar = tf.scalar(1);
    const scalarLabel = tf.scalar(0, "int32");
    expect(() => tokenCrossEntropy(scalar, scalarLabel)).toThrow(/tokenCrossEntropy.*logits.*scalar/);
    tf.dispose([logits, labelsF, logitsI, labels, labelsShort, labelsFlat, outOfRange, negative, scalar, scalarLabel]);
  });
});
