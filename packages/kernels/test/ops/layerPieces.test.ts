import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { mergeHeads, residualAdd, siluGate, splitHeads } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { seededValues } from "../support/reference.js";

/** float64 [B·L, H·D] → [B, H, L, D] by index arithmetic. */
function float64SplitHeads(x: ArrayLike<number>, b: number, l: number, h: number, d: number): Float64Array {
  const out = new Float64Array(b * h * l * d);
  for (let bi = 0; bi < b; bi++)
    for (let hi = 0; hi < h; hi++)
      for (let li = 0; li < l; li++)
        for (let di = 0; di < d; di++)
          out[((bi * h + hi) * l + li) * d + di] = x[(bi * l + li) * h * d + hi * d + di] as number;
  return out;
}

function float64SiluGate(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: g.length }, (_, i) => {
    const z = g[i] as number;
    return (z / (1 + Math.exp(-z))) * (u[i] as number);
  });
}

describeEachBackend("layer pieces", () => {
  const [b, l, h, d] = [2, 3, 4, 5];

  it("splitHeads and mergeHeads move data as the index arithmetic says, and invert each other", () => {
    const xv = seededValues([b * l, h * d], 1);
    const split = tf.tidy(() => splitHeads(tf.tensor(xv, [b * l, h * d]), b, h));
    expect(split.shape).toEqual([b, h, l, d]);
    expect(scaledMaxError(split.dataSync(), float64SplitHeads(xv, b, l, h, d))).toBe(0);
    const from3d = tf.tidy(() => splitHeads(tf.tensor(xv, [b, l, h * d]), b, h));
    expect(Array.from(from3d.dataSync())).toEqual(Array.from(split.dataSync()));
    const merged = tf.tidy(() => mergeHeads(split));
    expect(merged.shape).toEqual([b * l, h * d]);
    expect(Array.from(merged.dataSync())).toEqual(Array.from(xv));
    tf.dispose([split, from3d, merged]);
  });

  it("splitHeads and mergeHeads: gradients match finite differences", () => {
    const xv = seededValues([b * l, h * d], 2);
    const dy = seededValues([b, h, l, d], 3);
    const [g] = tfVjp((x) => splitHeads(x, b, h), [{ values: xv, shape: [b * l, h * d] }], {
      values: dy,
      shape: [b, h, l, d],
    });
    const [f] = finiteDifferenceVjp(([x]) => float64SplitHeads(x!, b, l, h, d), [xv], dy);
    expect(maxAbs(f!)).toBeGreaterThan(0.1);
    expect(scaledMaxError(g!, f!)).toBeLessThan(1e-4);
    const sv = seededValues([b, h, l, d], 4);
    const dm = seededValues([b * l, h * d], 5);
    const [gm] = tfVjp((x) => mergeHeads(x), [{ values: sv, shape: [b, h, l, d] }], {
      values: dm,
      shape: [b * l, h * d],
    });
    // merge is split's inverse, so its vector–Jacobian product is split applied to the cotangent.
    expect(scaledMaxError(gm!, float64SplitHeads(dm, b, l, h, d))).toBeLessThan(1e-6);
  });

  it("siluGate matches float64 and finite differences for both inputs", () => {
    const shape = [3, 7];
    const gv = seededValues(shape, 6, 3);
    const uv = seededValues(shape, 7, 1.5);
    const out = tf.tidy(() => siluGate(tf.tensor(gv, shape), tf.tensor(uv, shape)));
    expect(scaledMaxError(out.dataSync(), float64SiluGate(gv, uv))).toBeLessThan(1e-6);
    out.dispose();
    const dy = seededValues(shape, 8);
    const [gg, gu] = tfVjp(
      siluGate,
      [
        { values: gv, shape },
        { values: uv, shape },
      ],
      { values: dy, shape },
    );
    const [fg, fu] = finiteDifferenceVjp(([g, u]) => float64SiluGate(g!, u!), [gv, uv], dy);
    expect(maxAbs(fg!)).toBeGreaterThan(0.1);
    expect(scaledMaxError(gg!, fg!)).toBeLessThan(1e-4);
    expect(scaledMaxError(gu!, fu!)).toBeLessThan(1e-4);
  });

  it("residualAdd adds, and sends dy to both inputs", () => {
    const shape = [2, 3];
    const av = seededValues(shape, 9);
    const bv = seededValues(shape, 10);
    const dy = seededValues(shape, 11);
    const out = tf.tidy(() => residualAdd(tf.tensor(av, shape), tf.tensor(bv, shape)));
    expect(
      scaledMaxError(
        out.dataSync(),
        Float64Array.from(av, (x, i) => x + (bv[i] as number)),
      ),
    ).toBeLessThan(1e-7);
    out.dispose();
    const [ga, gb] = tfVjp(
      residualAdd,
      [
        { values: av, shape },
        { values: bv, shape },
      ],
      { values: dy, shape },
    );
    expect(Array.from(ga!)).toEqual(Array.from(dy));
    expect(Array.from(gb!)).toEqual(Array.from(dy));
  });

  it("names the op and the shapes on bad input", () => {
    const x = tf.zeros([6, 20]);
    const y = tf.zeros([6, 21]);
    expect(() => splitHeads(x, 4, 4)).toThrow(/splitHeads: batch 4 does not divide the rows of x \[6, 20\]/);
    expect(() => splitHeads(x, 2, 3)).toThrow(/splitHeads: heads 3 does not divide the last dimension of x \[6, 20\]/);
    expect(() => mergeHeads(x)).toThrow(/mergeHeads: x must have rank 4 \[B, H, L, D\], got shape \[6, 20\]/);
    expect(() => residualAdd(x, y)).toThrow(/residualAdd: a \[6, 20\] and b \[6, 21\] must have the same shape/);
    expect(() => siluGate(x, y)).toThrow(/siluGate: up must have shape \[6, 20\]/);
    tf.dispose([x, y]);
  });
});
