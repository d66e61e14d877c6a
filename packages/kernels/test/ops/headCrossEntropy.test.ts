import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { headCrossEntropy, IGNORE_INDEX, tokenCrossEntropy } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { maxAbsDiff, seededValues } from "../support/reference.js";

/** The head and the loss over vocabulary slices against the plain logits → tokenCrossEntropy. */
const [n, d, v] = [11, 6, 37];
const labels = [3, 36, IGNORE_INDEX, 0, 17, 17, 8, IGNORE_INDEX, 29, 35, 1];

describeEachBackend("headCrossEntropy", () => {
  for (const [sliceSize, keepProbabilities] of [
    [37, false],
    [8, false],
    [5, false],
    [1000, false],
    [37, true],
    [8, true],
  ] as const) {
    it(`slices of ${sliceSize}${keepProbabilities ? ", probabilities kept" : ""}: the loss and the gradients for hidden and a trained head match the full logits`, () => {
      const hidden = tf.variable(tf.tensor2d(seededValues([n, d], 1), [n, d]));
      const head = tf.variable(tf.tensor2d(seededValues([v, d], 2), [v, d]));
      const y = tf.tensor1d(labels, "int32");
      const plain = tf.variableGrads(() => tokenCrossEntropy(tf.matMul(hidden, head, false, true), y), [hidden, head]);
      const sliced = tf.variableGrads(
        () => headCrossEntropy(hidden, head, y, { sliceSize, keepProbabilities }),
        [hidden, head],
      );
      expect(Math.abs((sliced.value.dataSync()[0] as number) - (plain.value.dataSync()[0] as number))).toBeLessThan(
        1e-5,
      );
      for (const name of [hidden.name, head.name]) {
        expect(
          maxAbsDiff((sliced.grads[name] as tf.Tensor).dataSync(), (plain.grads[name] as tf.Tensor).dataSync()),
          name,
        ).toBeLessThan(1e-5);
      }
      tf.dispose([plain.value, plain.grads, sliced.value, sliced.grads, hidden, head, y]);
    });
  }

  for (const keepProbabilities of [false, true])
    it(`a frozen head gets no gradient; hidden's matches; nothing is left allocated${keepProbabilities ? " (probabilities kept)" : ""}`, () => {
      const hidden = tf.variable(tf.tensor2d(seededValues([n, d], 3), [n, d]));
      const head = tf.variable(tf.tensor2d(seededValues([v, d], 4), [v, d]), false);
      const y = tf.tensor1d(labels, "int32");
      const plain = tf.variableGrads(() => tokenCrossEntropy(tf.matMul(hidden, head, false, true), y), [hidden]);
      const before = tf.memory().numTensors;
      const sliced = tf.variableGrads(
        () => headCrossEntropy(hidden, head, y, { sliceSize: 8, keepProbabilities }),
        [hidden],
      );
      expect(Object.keys(sliced.grads)).toEqual([hidden.name]);
      expect(
        maxAbsDiff(
          (sliced.grads[hidden.name] as tf.Tensor).dataSync(),
          (plain.grads[hidden.name] as tf.Tensor).dataSync(),
        ),
      ).toBeLessThan(1e-5);
      tf.dispose([sliced.value, sliced.grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([plain.value, plain.grads, hidden, head, y]);
    });

  it("with probabilities kept, backward multiplies by the head slices only once (no recomputed logits)", async () => {
    const hidden = tf.variable(tf.tensor2d(seededValues([n, d], 5), [n, d]));
    const head = tf.variable(tf.tensor2d(seededValues([v, d], 6), [v, d]));
    const y = tf.tensor1d(labels, "int32");
    const products = async (keepProbabilities: boolean) => {
      const profile = await tf.profile(() => {
        const g = tf.variableGrads(() => headCrossEntropy(hidden, head, y, { sliceSize: 8, keepProbabilities }));
        tf.dispose([g.value, g.grads]);
      });
      return profile.kernels.filter((k) => k.name === "BatchMatMul").length;
    };
    // 5 slices of 8: forward 5 logits products; backward 5 × (d hidden, d head), plus 5 logits without keeping.
    expect(await products(true)).toBe(15);
    expect(await products(false)).toBe(20);
    tf.dispose([hidden, head, y]);
  });

  it("names bad labels and shapes", () => {
    const h = tf.zeros([2, 3]);
    const w = tf.zeros([5, 3]);
    expect(() => headCrossEntropy(h, w, tf.tensor1d([0, 5], "int32"))).toThrow(
      "headCrossEntropy: labels[1] is 5; it must be in [0, 5) or -100",
    );
    expect(() => headCrossEntropy(h, tf.zeros([5, 4]), tf.tensor1d([0, 1], "int32"))).toThrow(
      /hidden must be \[N, d\] and head \[V, d\] with the same d, got hidden \[2, 3\] and head \[5, 4\]/,
    );
    tf.dispose([h, w]);
  });
});
