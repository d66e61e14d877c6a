import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { documentWeights, roundToBfloat16 } from "../src/index.js";
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

it("roundToBfloat16 keeps 8 significant bits, rounding half to even", () => {
  expect(roundToBfloat16(1)).toBe(1);
  expect(roundToBfloat16(1 + 2 ** -8)).toBe(1); // halfway: to the even neighbour 1
  expect(roundToBfloat16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6); // halfway: to the even neighbour 1 + 2⁻⁶
  expect(roundToBfloat16(1 + 2 ** -8 + 2 ** -12)).toBe(1 + 2 ** -7); // above halfway: up
  expect(roundToBfloat16(-0.7)).toBe(-0.69921875);
  expect(roundToBfloat16(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  expect(roundToBfloat16(Number.NaN)).toBeNaN();
});

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

  it("similarityPrecision bf16: cos rounded to bfloat16 (half to even), so near-equal rows tie exactly at τ = 1e-4", () => {
    // Two passages at cos 0.899 and 0.8995: 5 nats apart at τ = 1e-4 in float32, but both round to the
    // bfloat16 0.8984375 (spacing 2⁻⁸ on [0.5, 1)), so bf16 ties them exactly.
    const unitAt = (c: number) => [c, Math.sqrt(1 - c * c), 0];
    const q = [...unitAt(1), ...unitAt(1), ...unitAt(1)];
    const p = [...unitAt(0), ...unitAt(0.899), ...unitAt(0.8995)];
    const run = (similarityPrecision: "float32" | "bf16") =>
      tf.tidy(() =>
        Array.from(
          documentWeights(tf.tensor2d(q, [3, 3]), tf.tensor2d(p, [3, 3]), {
            temperature: 1e-4,
            similarityPrecision,
          }).dataSync(),
        ),
      );
    const f32 = run("float32");
    expect(f32[0]).toBe(0);
    expect(f32[2]).toBeGreaterThan(0.99);
    expect(run("bf16").slice(0, 3)).toEqual([0, 0.5, 0.5]);
  });

  it("similarityPrecision bf16 passes the gradient straight through the rounding", () => {
    const g = seededValues([B, B], 33);
    const grads = (similarityPrecision: "float32" | "bf16") =>
      tf.tidy(() => {
        const f = (q: tf.Tensor) =>
          tf.sum(
            tf.mul(
              documentWeights(q, tf.tensor2d(pe, [B, D]), { temperature: 0.5, similarityPrecision }),
              tf.tensor2d(g, [B, B]),
            ),
          );
        return tf
          .grad(f)(tf.tensor2d(qe, [B, D]))
          .dataSync() as Float32Array;
      });
    const f32 = grads("float32");
    const bf16 = grads("bf16");
    // Not identical (the forward values differ by the rounding), but the same gradient to bf16 precision.
    expect(maxAbsDiff(f32, bf16)).toBeLessThan(0.02 * maxAbs(f32));
    expect(maxAbs(bf16)).toBeGreaterThan(0.1);
  });

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
    expect(() => documentWeights(a, a, { temperature: 0 })).toThrow(
      /documentWeights: temperature must be a number > 0, got 0/,
    );
    expect(() => documentWeights(a, a, { topK: 4 })).toThrow(/topK must be an integer from 1 to 3, got 4/);
    expect(() => documentWeights(a, a, { similarityPrecision: "fp8" as "bf16" })).toThrow(
      /similarityPrecision must be one of "float32", "bf16", got "fp8"/,
    );
  });
});
