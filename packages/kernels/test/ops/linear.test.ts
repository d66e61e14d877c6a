import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { linear } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { float64Linear } from "../support/float64Ops.js";
import { seededValues } from "../support/reference.js";

interface Case {
  name: string;
  xShape: number[];
  out: number;
  bias: boolean;
}

const cases: Case[] = [
  { name: "rank 3 with bias", xShape: [2, 3, 5], out: 7, bias: true },
  { name: "rank 3 without bias", xShape: [2, 3, 5], out: 4, bias: false },
  { name: "rank 4 with bias", xShape: [2, 1, 3, 6], out: 3, bias: true },
  { name: "rank 1 with bias", xShape: [9], out: 5, bias: true },
];

describeEachBackend("linear", () => {
  for (const c of cases) {
    const din = c.xShape[c.xShape.length - 1]!;
    const outShape = [...c.xShape.slice(0, -1), c.out];

    it(`${c.name}: ${JSON.stringify(c.xShape)} · [${din}, ${c.out}] matches float64`, () => {
      const xv = seededValues(c.xShape, 1);
      const wv = seededValues([din, c.out], 2);
      const bv = seededValues([c.out], 3);
      const out = tf.tidy(() =>
        linear(tf.tensor(xv, c.xShape), tf.tensor(wv, [din, c.out]), c.bias ? tf.tensor(bv, [c.out]) : undefined),
      );
      expect(out.shape).toEqual(outShape);
      const ref = float64Linear(xv, c.xShape, wv, c.out, c.bias ? bv : undefined);
      expect(scaledMaxError(out.dataSync(), ref)).toBeLessThan(1e-5);
      out.dispose();
    });

    it(`${c.name}: gradients for x, w${c.bias ? " and bias" : ""} match finite differences`, () => {
      const xv = seededValues(c.xShape, 4);
      const wv = seededValues([din, c.out], 5);
      const bv = seededValues([c.out], 6);
      const dy = seededValues(outShape, 7);
      const specs = [
        { values: xv, shape: c.xShape },
        { values: wv, shape: [din, c.out] },
        ...(c.bias ? [{ values: bv, shape: [c.out] }] : []),
      ];
      const analytic = tfVjp((x, w, b) => linear(x, w, b), specs, { values: dy, shape: outShape });
      const numeric = finiteDifferenceVjp(
        ([x, w, b]) => float64Linear(x!, c.xShape, w!, c.out, b),
        specs.map((s) => s.values),
        dy,
      );
      expect(analytic).toHaveLength(specs.length);
      for (let i = 0; i < specs.length; i++) {
        expect(maxAbs(numeric[i]!)).toBeGreaterThan(1e-2);
        expect(scaledMaxError(analytic[i]!, numeric[i]!), `input ${i}`).toBeLessThan(1e-3);
      }
    });
  }

  it("names the op and the shapes on mismatched, wrongly ranked or scalar inputs", () => {
    const x = tf.zeros([2, 3, 5]);
    const wBad = tf.zeros([4, 7]);
    expect(() => linear(x, wBad)).toThrow(/linear.*w.*\[5, 7\].*\[2, 3, 5\].*got \[4, 7\]/);
    const w3 = tf.zeros([1, 5, 7]);
    expect(() => linear(x, w3)).toThrow(/linear.*w.*rank 2.*\[1, 5, 7\]/);
    const w = tf.zeros([5, 7]);
    const b = tf.zeros([5]);
    expect(() => linear(x, w, b)).toThrow(/linear.*bias.*\[7\].*\[5, 7\].*got \[5\]/);
    const s = tf.scalar(2);
    expect(() => linear(s, w)).toThrow(/linear.*x.*scalar/);
    expect(() => linear(x, "w" as unknown as tf.Tensor)).toThrow(/linear.*w.*tf\.Tensor.*string/);
    tf.dispose([x, wBad, w3, w, b, s]);
  });
});
