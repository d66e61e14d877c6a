import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { documentWeights } from "../src/index.js";
import { describeEachBackend } from "./support/backends.js";
import {
  dot,
  finiteDifferenceGradient,
  maxAbs,
  maxAbsDiff,
  referenceDocumentWeights,
  seededValues,
} from "./support/reference.js";

const B = 5;
const D = 6;
const qe = seededValues([B, D], 31);
const pe = seededValues([B, D], 32);

function weights(options: Parameters<typeof documentWeights>[2], q = qe, p = pe): Float32Array {
  return tf.tidy(
    () => documentWeights(tf.tensor2d(q, [B, D]), tf.tensor2d(p, [B, D]), options).dataSync() as Float32Array,
  );
}

describeEachBackend("documentWeights", () => {
  for (const temperature of [0.5, 0.05, 1e-4]) {
    it(`row-softmax(cos/τ) with the diagonal excluded matches float64, τ = ${temperature}`, () => {
      const got = weights({ temperature });
      expect(maxAbsDiff(got, referenceDocumentWeights(qe, pe, B, D, temperature))).toBeLessThan(1e-5);
      for (let i = 0; i < B; i++) {
        expect(got[i * B + i]).toBe(0);
        let sum = 0;
        for (let j = 0; j < B; j++) sum += got[i * B + j] as number;
        expect(sum).toBeCloseTo(1, 5);
      }
    });
  }

  it("defaults to τ = 1e-4: nearly one-hot rows", () => {
    const got = weights({});
    expect(maxAbsDiff(got, referenceDocumentWeights(qe, pe, B, D, 1e-4))).toBeLessThan(1e-5);
    for (let i = 0; i < B; i++) expect(Math.max(...got.subarray(i * B, (i + 1) * B))).toBeGreaterThan(0.99);
  });

  it("keeps the diagonal when asked", () => {
    const got = weights({ temperature: 0.5, excludeDiagonal: false });
    expect(maxAbsDiff(got, referenceDocumentWeights(qe, pe, B, D, 0.5, false))).toBeLessThan(1e-5);
    expect(got[0]).toBeGreaterThan(0);
  });

  it("topK keeps each row's k largest weights, renormalised", () => {
    const got = weights({ temperature: 0.5, topK: 2 });
    expect(maxAbsDiff(got, referenceDocumentWeights(qe, pe, B, D, 0.5, true, 2))).toBeLessThan(1e-5);
    for (let i = 0; i < B; i++) expect(got.subarray(i * B, (i + 1) * B).filter((x) => x > 0).length).toBe(2);
  });

  for (const topK of [undefined, 2]) {
    it(`gradients with respect to both embeddings match finite differences${topK ? ` (topK ${topK})` : ""}`, () => {
      const temperature = 0.5;
      const cot = seededValues([B, B], 33);
      const [gq, gp] = tf.tidy(() =>
        tf
          .grads((q: tf.Tensor, p: tf.Tensor) =>
            tf.sum(tf.mul(documentWeights(q, p, { temperature, topK }), tf.tensor2d(cot, [B, B]))),
          )([tf.tensor2d(qe, [B, D]), tf.tensor2d(pe, [B, D])])
          .map((g) => g.dataSync()),
      ) as [Float32Array, Float32Array];
      const loss = (q: ArrayLike<number>, p: ArrayLike<number>) =>
        dot(referenceDocumentWeights(q, p, B, D, temperature, true, topK), cot);
      const fq = finiteDifferenceGradient(qe, (q) => loss(q, pe));
      const fp = finiteDifferenceGradient(pe, (p) => loss(qe, p));
      expect(maxAbs(fq)).toBeGreaterThan(1e-2);
      expect(maxAbsDiff(gq, fq)).toBeLessThan(1e-4 * Math.max(1, maxAbs(fq)));
      expect(maxAbsDiff(gp, fp)).toBeLessThan(1e-4 * Math.max(1, maxAbs(fp)));
    });
  }

  it("gives a zero embedding finite weights and gradients", () => {
    const z = Float32Array.from(qe);
    z.fill(0, 0, D);
    const g = tf.tidy(() =>
      tf
        .grad((q: tf.Tensor) => tf.sum(tf.mul(documentWeights(q, tf.tensor2d(pe, [B, D]), { temperature: 0.5 }), 3)))(
          tf.tensor2d(z, [B, D]),
        )
        .dataSync(),
    );
    expect(weights({ temperature: 0.5 }, z).every(Number.isFinite)).toBe(true);
    expect(g.every(Number.isFinite)).toBe(true);
  });

  let a: tf.Tensor;
  beforeAll(() => {
    a = tf.zeros([4, 8]);
  });
  afterAll(() => a.dispose());

  it("names the shapes and options it rejects", () => {
    expect(() => documentWeights(a, tf.zeros([3, 8]))).toThrow(
      /documentWeights: passageEmb must have shape \[4, 8\] \(must match queryEmb \[4, 8\]\), got \[3, 8\]/,
    );
    expect(() => documentWeights(tf.zeros([4]), tf.zeros([4]))).toThrow(
      /queryEmb must have rank 2 \[B, D\], got shape \[4\]/,
    );
    expect(() => documentWeights(tf.zeros([1, 8]), tf.zeros([1, 8]))).toThrow(
      /a batch of 1 chunk .*no chunk to retrieve/,
    );
    expect(() => documentWeights(a, a, { temperature: 0 })).toThrow(/temperature must be a positive finite number/);
    expect(() => documentWeights(a, a, { topK: 4 })).toThrow(/topK must be an integer from 1 to 3, got 4/);
  });
});
