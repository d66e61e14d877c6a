import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { describeEachBackend } from "./support/backends.js";
import { float64MatMul, maxAbsDiff, seededValues } from "./support/reference.js";

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const cases: Case[] = [
  { name: "plain", a: [37, 19], b: [19, 23], transposeA: false, transposeB: false },
  { name: "transposeA", a: [19, 37], b: [19, 23], transposeA: true, transposeB: false },
  { name: "transposeB", a: [37, 19], b: [23, 19], transposeA: false, transposeB: true },
  { name: "both transposed", a: [19, 37], b: [23, 19], transposeA: true, transposeB: true },
  { name: "batched", a: [3, 37, 19], b: [3, 19, 23], transposeA: false, transposeB: false },
  { name: "batched, transposed", a: [3, 19, 37], b: [3, 23, 19], transposeA: true, transposeB: true },
  { name: "broadcast right (weights)", a: [2, 3, 37, 19], b: [19, 23], transposeA: false, transposeB: false },
  { name: "broadcast left", a: [37, 19], b: [4, 19, 23], transposeA: false, transposeB: false },
  { name: "rank 4, transposeB", a: [2, 3, 16, 8], b: [2, 3, 16, 8], transposeA: false, transposeB: true },
  // Cases the kernel computes as Cᵀ = Bᵀ·Aᵀ (fewer floats to copy), transposed back.
  { name: "transposeB, few rows (swapped)", a: [2, 50], b: [40, 50], transposeA: false, transposeB: true },
  {
    name: "batched, both transposed (swapped)",
    a: [2, 3, 40, 7],
    b: [2, 3, 5, 40],
    transposeA: true,
    transposeB: true,
  },
  { name: "empty inner dimension", a: [4, 0], b: [0, 5], transposeA: false, transposeB: false },
];

describeEachBackend("matMul", () => {
  for (const c of cases) {
    it(`${c.name}: ${JSON.stringify(c.a)} x ${JSON.stringify(c.b)} matches float64`, () => {
      const av = seededValues(c.a, 11);
      const bv = seededValues(c.b, 12);
      const out = tf.tidy(() => tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.transposeA, c.transposeB));
      const ref = float64MatMul(av, c.a, bv, c.b, c.transposeA, c.transposeB);
      expect(out.shape).toEqual(ref.shape);
      expect(maxAbsDiff(out.dataSync(), ref.values)).toBeLessThan(1e-4);
      out.dispose();
    });
  }

  it("gradients of a transposed product match float64 products", () => {
    const [m, k, n] = [9, 7, 5];
    const av = seededValues([k, m], 3);
    const bv = seededValues([n, k], 4);
    const dyv = seededValues([m, n], 5);
    const grads = tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(a, b, true, true), tf.tensor(dyv, [m, n]))),
      );
      return g([tf.tensor(av, [k, m]), tf.tensor(bv, [n, k])]);
    });
    // out = Aᵀ Bᵀ ⇒ dA = (dy · B)ᵀ = Bᵀ dyᵀ and dB = (A · dy)ᵀ = dyᵀ Aᵀ.
    const dA = float64MatMul(bv, [n, k], dyv, [m, n], true, true); // [k, m] = Bᵀ dyᵀ
    const dB = float64MatMul(dyv, [m, n], av, [k, m], true, true); // [n, k] = dyᵀ Aᵀ
    expect(maxAbsDiff(grads[0]!.dataSync(), dA.values)).toBeLessThan(1e-4);
    expect(maxAbsDiff(grads[1]!.dataSync(), dB.values)).toBeLessThan(1e-4);
    tf.dispose(grads);
  });

  it("names both shapes when inner dimensions differ", () => {
    expect(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 5]))).toThrow(/3.*4|4.*3/);
  });
});
