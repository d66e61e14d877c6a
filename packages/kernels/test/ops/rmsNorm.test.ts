import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { rmsNorm } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { float64RmsNorm } from "../support/float64Ops.js";
import { seededValues } from "../support/reference.js";

interface Case {
  name: string;
  shape: number[];
  eps: number;
}

const cases: Case[] = [
  { name: "rank 3, odd D", shape: [2, 3, 7], eps: 1e-6 },
  { name: "rank 2", shape: [5, 8], eps: 1e-5 },
  { name: "rank 1", shape: [9], eps: 1e-6 },
  // A large eps makes its placement (inside the square root, after the mean) visible.
  { name: "large eps", shape: [4, 6], eps: 0.5 },
];

/** Weights around 1 with a spread, as a trained norm has. */
function weightValues(d: number, seed: number): Float32Array {
  return seededValues([d], seed, 0.5).map((w) => 1 + w);
}

describeEachBackend("rmsNorm", () => {
  for (const c of cases) {
    it(`${c.name}: ${JSON.stringify(c.shape)} matches float64`, () => {
      const d = c.shape[c.shape.length - 1]!;
      const xv = seededValues(c.shape, 1, 2);
      const wv = weightValues(d, 2);
      const out = tf.tidy(() => rmsNorm(tf.tensor(xv, c.shape), tf.tensor(wv, [d]), c.eps));
      expect(out.shape).toEqual(c.shape);
      const ref = float64RmsNorm(xv, c.shape, wv, c.eps);
      expect(scaledMaxError(out.dataSync(), ref)).toBeLessThan(1e-5);
      out.dispose();
    });

    it(`${c.name}: gradients for x and weight match finite differences`, () => {
      const d = c.shape[c.shape.length - 1]!;
      const xv = seededValues(c.shape, 3, 2);
      const wv = weightValues(d, 4);
      const dy = seededValues(c.shape, 5);
      const [gx, gw] = tfVjp(
        (x, w) => rmsNorm(x, w, c.eps),
        [
          { values: xv, shape: c.shape },
          { values: wv, shape: [d] },
        ],
        { values: dy, shape: c.shape },
      );
      const [fx, fw] = finiteDifferenceVjp(([x, w]) => float64RmsNorm(x!, c.shape, w!, c.eps), [xv, wv], dy);
      expect(maxAbs(fx!)).toBeGreaterThan(1e-2);
      expect(maxAbs(fw!)).toBeGreaterThan(1e-2);
      expect(scaledMaxError(gx!, fx!)).toBeLessThan(1e-3);
      expect(scaledMaxError(gw!, fw!)).toBeLessThan(1e-3);
    });
  }

  it("normalises each row on its own (a scaled row gives the same output)", () => {
    const xv = seededValues([2, 6], 6);
    for (let j = 0; j < 6; j++) xv[6 + j] = 100 * xv[j]!;
    const wv = weightValues(6, 7);
    const out = tf.tidy(() => rmsNorm(tf.tensor(xv, [2, 6]), tf.tensor(wv, [6]), 1e-12));
    const values = out.dataSync();
    const ref = float64RmsNorm(xv.subarray(0, 6), [6], wv, 1e-12);
    expect(scaledMaxError(values.subarray(0, 6), ref)).toBeLessThan(1e-5);
    expect(scaledMaxError(values.subarray(6), ref)).toBeLessThan(1e-5);
    out.dispose();
  });

  it("names the op, the weight and both shapes when weight does not match the last axis", () => {
    const x = tf.zeros([2, 3, 8]);
    const w = tf.ones([7]);
    expect(() => rmsNorm(x, w)).toThrow(/rmsNorm.*weight.*\[8\].*\[2, 3, 8\].*\[7\]/);
    tf.dispose([x, w]);
  });

  it("rejects a weight of the wrong rank", () => {
    const x = tf.zeros([2, 8]);
    const w = tf.ones([1, 8]);
    expect(() => rmsNorm(x, w)).toThrow(/rmsNorm.*weight.*\[1, 8\]/);
    tf.dispose([x, w]);
  });

  it("rejects a scalar x and a non-positive eps", () => {
    const x = tf.scalar(1);
    const w = tf.ones([1]);
    expect(() => rmsNorm(x, w)).toThrow(/rmsNorm.*x.*scalar/);
    const x2 = tf.zeros([2, 1]);
    expect(() => rmsNorm(x2, w, 0)).toThrow(/rmsNorm.*eps.*0/);
    expect(() => rmsNorm(x2, w, Number.NaN)).toThrow(/rmsNorm.*eps.*NaN/);
    tf.dispose([x, w, x2]);
  });

  it("rejects a non-tensor or disposed input", () => {
    const w = tf.ones([3]);
    expect(() => rmsNorm([1, 2, 3] as unknown as tf.Tensor, w)).toThrow(/rmsNorm.*x.*tf\.Tensor.*array/);
    const x = tf.zeros([2, 3]);
    x.dispose();
    expect(() => rmsNorm(x, w)).toThrow(/rmsNorm.*x.*\[2, 3\].*disposed/);
    w.dispose();
  });
});
