import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { swigluMlp } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { float64Swiglu } from "../support/float64Ops.js";
import { seededValues } from "../support/reference.js";

interface Case {
  name: string;
  xShape: number[];
  f: number;
}

const cases: Case[] = [
  { name: "rank 3, d=5, f=7", xShape: [2, 3, 5], f: 7 },
  { name: "rank 2, d=6, f=4 (f < d)", xShape: [4, 6], f: 4 },
  { name: "rank 1, d=3, f=9", xShape: [3], f: 9 },
];

function inputs(c: Case, seed: number) {
  const d = c.xShape[c.xShape.length - 1]!;
  // Scales chosen so the gate pre-activations cover both sides of silu's bend.
  return {
    d,
    x: seededValues(c.xShape, seed, 1.5),
    wGate: seededValues([d, c.f], seed + 1, 1.2),
    wUp: seededValues([d, c.f], seed + 2, 0.9),
    wDown: seededValues([c.f, d], seed + 3, 0.8),
  };
}

describeEachBackend("swigluMlp", () => {
  for (const c of cases) {
    it(`${c.name} matches float64`, () => {
      const { d, x, wGate, wUp, wDown } = inputs(c, 1);
      const out = tf.tidy(() =>
        swigluMlp(
          tf.tensor(x, c.xShape),
          tf.tensor(wGate, [d, c.f]),
          tf.tensor(wUp, [d, c.f]),
          tf.tensor(wDown, [c.f, d]),
        ),
      );
      expect(out.shape).toEqual(c.xShape);
      const ref = float64Swiglu(x, c.xShape, wGate, wUp, wDown, c.f);
      expect(scaledMaxError(out.dataSync(), ref)).toBeLessThan(1e-5);
      out.dispose();
    });

    it(`${c.name}: gradients for x, wGate, wUp and wDown match finite differences`, () => {
      const { d, x, wGate, wUp, wDown } = inputs(c, 10);
      const dy = seededValues(c.xShape, 20);
      const analytic = tfVjp(
        (xt, g, u, dn) => swigluMlp(xt, g, u, dn),
        [
          { values: x, shape: c.xShape },
          { values: wGate, shape: [d, c.f] },
          { values: wUp, shape: [d, c.f] },
          { values: wDown, shape: [c.f, d] },
        ],
        { values: dy, shape: c.xShape },
      );
      const numeric = finiteDifferenceVjp(
        ([xv, g, u, dn]) => float64Swiglu(xv!, c.xShape, g!, u!, dn!, c.f),
        [x, wGate, wUp, wDown],
        dy,
      );
      const names = ["x", "wGate", "wUp", "wDown"];
      expect(analytic).toHaveLength(4);
      for (let i = 0; i < 4; i++) {
        expect(maxAbs(numeric[i]!), names[i]).toBeGreaterThan(1e-2);
        expect(scaledMaxError(analytic[i]!, numeric[i]!), names[i]).toBeLessThan(1e-3);
      }
    });
  }

  it("gates with silu(x·wGate), not silu(x·wUp): swapping the two weights changes the output", () => {
    const c = cases[0]!;
    const { d, x, wGate, wUp, wDown } = inputs(c, 30);
    const out = tf.tidy(() =>
      swigluMlp(
        tf.tensor(x, c.xShape),
        tf.tensor(wUp, [d, c.f]),
        tf.tensor(wGate, [d, c.f]),
        tf.tensor(wDown, [c.f, d]),
      ),
    );
    const swapped = float64Swiglu(x, c.xShape, wUp, wGate, wDown, c.f);
    const unswapped = float64Swiglu(x, c.xShape, wGate, wUp, wDown, c.f);
    expect(scaledMaxError(out.dataSync(), swapped)).toBeLessThan(1e-5);
    expect(scaledMaxError(out.dataSync(), unswapped)).toBeGreaterThan(1e-2);
    out.dispose();
  });

  it("names the op and the shapes when a weight does not fit", () => {
    const x = tf.zeros([2, 3, 5]);
    const g = tf.zeros([5, 7]);
    const u = tf.zeros([5, 7]);
    const dn = tf.zeros([7, 5]);
    const gBadIn = tf.zeros([4, 7]);
    expect(() => swigluMlp(x, gBadIn, u, dn)).toThrow(/swigluMlp.*wGate.*\[5, 7\].*\[2, 3, 5\].*\[4, 7\]/);
    const uBad = tf.zeros([5, 6]);
    expect(() => swigluMlp(x, g, uBad, dn)).toThrow(/swigluMlp.*wUp.*\[5, 7\].*\[5, 6\]/);
    const dnT = tf.zeros([5, 7]);
    expect(() => swigluMlp(x, g, u, dnT)).toThrow(/swigluMlp.*wDown.*\[7, 5\].*got \[5, 7\]/);
    const gRank = tf.zeros([5, 7, 1]);
    expect(() => swigluMlp(x, gRank, u, dn)).toThrow(/swigluMlp.*wGate.*rank 2.*\[5, 7, 1\]/);
    const s = tf.scalar(1);
    expect(() => swigluMlp(s, g, u, dn)).toThrow(/swigluMlp.*x.*scalar/);
    expect(() => swigluMlp(x, g, u, null as unknown as tf.Tensor)).toThrow(/swigluMlp.*wDown.*tf\.Tensor.*null/);
    tf.dispose([x, g, u, dn, gBadIn, uBad, dnT, gRank, s]);
  });
});
