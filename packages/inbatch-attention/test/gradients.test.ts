import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import {
  type CrossAttentionImplementation,
  type CrossDocumentAttentionOptions,
  crossDocumentAttention,
  type DropoutOptions,
  documentWeights,
  fillPairMultipliers,
  IMPLEMENTATIONS,
} from "../src/index.js";
import { type Case, makeCase } from "./support/fixtures.js";
import {
  dot,
  finiteDifferenceGradient,
  maxAbs,
  maxAbsDiff,
  type ReferenceProblem,
  referenceCrossAttention,
  seededValues,
} from "./support/reference.js";

type Grads = { q: Float32Array; k: Float32Array; v: Float32Array; w: Float32Array };

/** Gradients of Σ out ⊙ cotangent with respect to q, k, v and W, from the op on the active backend. */
function analyticGradients(c: Case, options: CrossDocumentAttentionOptions, cotangent: Float32Array): Grads {
  return tf.tidy(() => {
    const t = c.tensors();
    const ct = tf.tensor4d(cotangent, [c.b, c.h, c.l, c.d]);
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, w: tf.Tensor) =>
      tf.sum(
        tf.mul(
          crossDocumentAttention(q, k, v, w, {
            ...options,
            ...(t.keyMask ? { keyPaddingMask: t.keyMask } : {}),
            ...(t.queryMask ? { queryMask: t.queryMask } : {}),
            valueNorm: c.valueNorm,
          }),
          ct,
        ),
      );
    const [q, k, v, w] = tf.grads(f)([t.q, t.k, t.v, t.w]) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    return {
      q: q.dataSync() as Float32Array,
      k: k.dataSync() as Float32Array,
      v: v.dataSync() as Float32Array,
      w: w.dataSync() as Float32Array,
    };
  });
}

/** The same gradients by central differences of the float64 loop. `wMask` fixes topk's selection. */
function finiteDifferences(p: ReferenceProblem, cotangent: Float32Array, wMask?: Float32Array) {
  const withW = (w: ArrayLike<number>) => (wMask ? Float64Array.from(w, (x, n) => x * (wMask[n] as number)) : w);
  const loss = (over: Partial<ReferenceProblem>) =>
    dot(referenceCrossAttention({ ...p, w: withW(p.w), ...over }), cotangent);
  return {
    q: finiteDifferenceGradient(p.q, (q) => loss({ q })),
    k: finiteDifferenceGradient(p.k, (k) => loss({ k })),
    v: finiteDifferenceGradient(p.v, (v) => loss({ v })),
    w: finiteDifferenceGradient(p.w, (w) => loss({ w: withW(w) })),
  };
}

function expectClose(got: Grads, want: Record<keyof Grads, Float64Array>): void {
  for (const name of ["q", "k", "v", "w"] as const) {
    const scale = Math.max(1, maxAbs(want[name]));
    expect(maxAbs(want[name]), `${name}: the gradient is not trivially zero`).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(got[name], want[name]) / scale, `d/d${name}`).toBeLessThan(1e-4);
  }
}

function multiplierFor(c: Case, dropout: DropoutOptions) {
  return (i: number, j: number) => {
    const m = new Float32Array(c.h * c.l * c.l);
    fillPairMultipliers(m, dropout, i, j, c.h, c.l, (head, row) => (head * c.l + row) * c.l);
    return m;
  };
}

const variants: { name: string; options: Parameters<typeof makeCase>[0]; dropout?: DropoutOptions }[] = [
  { name: "V-norm, padding, query mask", options: { padded: true, queryMask: true } },
  { name: "no V-norm, padding", options: { padded: true, valueNorm: false } },
  { name: "4 query heads per kv head, B=4", options: { b: 4, h: 4, hkv: 1, l: 4, d: 4, padded: true, seed: 3 } },
  { name: "dropout", options: { padded: true, queryMask: true, seed: 5 }, dropout: { rate: 0.25, seed: 77 } },
  { name: "W without zeros", options: { padded: true, queryMask: true, weights: "positive", seed: 6 } },
  { name: "one-hot W, chunk 2 retrieved by nobody", options: { b: 4, padded: true, weights: "sparse", seed: 7 } },
  {
    name: "one-hot W, every chunk retrieved once, dropout",
    options: { b: 4, padded: true, queryMask: true, weights: "permutation", seed: 10 },
    dropout: { rate: 0.2, seed: 78 },
  },
];

describeEachBackend("gradients (finite differences of the float64 loop)", () => {
  for (const variant of variants) {
    describe(variant.name, () => {
      const c = makeCase(variant.options);
      const cotangent = seededValues([c.b, c.h, c.l, c.d], 101);
      const ref: ReferenceProblem = variant.dropout ? { ...c, multiplier: multiplierFor(c, variant.dropout) } : c;
      const fd = finiteDifferences(ref, cotangent);
      for (const implementation of IMPLEMENTATIONS) {
        it(`${implementation}: d/dq, d/dk, d/dv, d/dW`, () => {
          const options: CrossDocumentAttentionOptions = { implementation, topK: c.b };
          if (variant.dropout) options.dropout = variant.dropout;
          expectClose(analyticGradients(c, options, cotangent), fd);
        });
      }
    });
  }

  it("topk with k = B − 2: gradients of the kept pairs; W of the others gets none", () => {
    const c = makeCase({ b: 4, padded: true, queryMask: true, seed: 8 });
    const cotangent = seededValues([c.b, c.h, c.l, c.d], 102);
    const keep = new Float32Array(16);
    for (let i = 0; i < 4; i++) {
      const order = [0, 1, 2, 3].sort((x, y) => (c.w[i * 4 + y] as number) - (c.w[i * 4 + x] as number) || x - y);
      for (const j of order.slice(0, 2)) keep[i * 4 + j] = 1;
    }
    const got = analyticGradients(c, { implementation: "topk", topK: 2 }, cotangent);
    expectClose(got, finiteDifferences(c, cotangent, keep));
    expect(Array.from(got.w).every((g, n) => keep[n] === 1 || g === 0)).toBe(true);
  });

  // weightGradient "support": q, k, v exactly as before; dL/dW as the finite differences where W ≠ 0,
  // exactly 0 where W = 0 (streaming does not even compute those).
  for (const variant of variants.filter((x) => x.name !== "W without zeros")) {
    for (const implementation of IMPLEMENTATIONS) {
      it(`${implementation}, weightGradient support (${variant.name}): dL/dW on W's support only`, () => {
        const c = makeCase(variant.options);
        const cotangent = seededValues([c.b, c.h, c.l, c.d], 104);
        const ref: ReferenceProblem = variant.dropout ? { ...c, multiplier: multiplierFor(c, variant.dropout) } : c;
        const fd = finiteDifferences(ref, cotangent);
        const options: CrossDocumentAttentionOptions = { implementation, topK: c.b, weightGradient: "support" };
        if (variant.dropout) options.dropout = variant.dropout;
        const got = analyticGradients(c, options, cotangent);
        const support = Float64Array.from(c.w, (x) => (x !== 0 ? 1 : 0));
        expect(support.includes(0), "the case has pairs off the support").toBe(true);
        expectClose(got, { ...fd, w: fd.w.map((g, n) => g * (support[n] as number)) });
        expect(Array.from(got.w).every((g, n) => support[n] === 1 || g === 0)).toBe(true);
        // Off the support, the full gradient is not zero: "support" really leaves something out.
        expect(Math.max(...Array.from(fd.w, (g, n) => (support[n] ? 0 : Math.abs(g))))).toBeGreaterThan(1e-3);
      });
    }
  }

  // The reason the option exists: through a softmax W (documentWeights, here with top-2 rows so that
  // W has zeros and rows that are not one-hot), the embeddings' gradients are the same either way.
  for (const implementation of IMPLEMENTATIONS) {
    it(`${implementation}: weightGradient support gives the embeddings the same gradient through documentWeights`, () => {
      const c = makeCase({ b: 5, padded: true, queryMask: true, seed: 9 });
      const cotangent = tf.tensor4d(seededValues([c.b, c.h, c.l, c.d], 105), [c.b, c.h, c.l, c.d]);
      const t = c.tensors();
      const qEmb = tf.tensor2d(seededValues([c.b, 8], 106), [c.b, 8]);
      const pEmb = tf.tensor2d(seededValues([c.b, 8], 107), [c.b, 8]);
      const embeddingGrads = (weightGradient: "all" | "support") =>
        tf.tidy(() =>
          tf
            .grads((qe: tf.Tensor, pe: tf.Tensor) => {
              const w = documentWeights(qe, pe, { temperature: 0.3, topK: 2 });
              const out = crossDocumentAttention(t.q, t.k, t.v, w, {
                implementation,
                topK: c.b,
                weightGradient,
                keyPaddingMask: t.keyMask!,
                queryMask: t.queryMask!,
              });
              return tf.sum(tf.mul(out, cotangent));
            })([qEmb, pEmb])
            .map((g) => g.dataSync() as Float32Array),
        );
      const all = embeddingGrads("all");
      const support = embeddingGrads("support");
      for (const [n, name] of ["queryEmb", "passageEmb"].entries()) {
        expect(maxAbs(all[n] as Float32Array), `${name}: not trivially zero`).toBeGreaterThan(1e-3);
        expect(maxAbsDiff(support[n] as Float32Array, all[n] as Float32Array), name).toBeLessThan(1e-6);
      }
      tf.dispose([cotangent, qEmb, pEmb, ...Object.values(t)]);
    });
  }

  for (const implementation of IMPLEMENTATIONS) {
    it(`${implementation}: padded keys and values get exactly zero gradient, finite everywhere (zero padded V)`, () => {
      const c = makeCase({ padded: true, queryMask: true, seed: 12 });
      // A chunk with no real key at all, and a real key whose value vector is exactly zero.
      const mask = Float32Array.from(c.keyMask!);
      mask.fill(0, 2 * c.l, 3 * c.l);
      const v = Float32Array.from(c.v);
      v.fill(0, 0, c.d); // chunk 0, kv head 0, position 0: ‖v‖ = 0 on a real key
      const c2: Case = {
        ...c,
        keyMask: mask,
        v,
        tensors: () => ({
          ...c.tensors(),
          keyMask: tf.tensor2d(mask, [c.b, c.l]),
          v: tf.tensor4d(v, [c.b, c.hkv, c.l, c.d]),
        }),
      };
      const got = analyticGradients(c2, { implementation, topK: 3 }, seededValues([c.b, c.h, c.l, c.d], 103));
      for (const g of [got.q, got.k, got.v, got.w]) expect(g.every(Number.isFinite)).toBe(true);
      for (let j = 0; j < c.b; j++) {
        for (let pos = 0; pos < c.l; pos++) {
          if (mask[j * c.l + pos] === 1) continue;
          for (let g = 0; g < c.hkv; g++) {
            const o = ((j * c.hkv + g) * c.l + pos) * c.d;
            expect(got.k.subarray(o, o + c.d).every((x) => x === 0)).toBe(true);
            expect(got.v.subarray(o, o + c.d).every((x) => x === 0)).toBe(true);
          }
        }
      }
      for (let i = 0; i < c.b; i++) expect(Math.abs(got.w[i * c.b + 2] as number)).toBe(0); // W_i2: chunk 2 has no key
      expect(maxAbs(got.w)).toBeGreaterThan(1e-3);
    });
  }
});

describe("implementations", () => {
  it("are exactly dense, streaming and topk", () => {
    expect(IMPLEMENTATIONS).toEqual(["dense", "streaming", "topk"] satisfies CrossAttentionImplementation[]);
  });
});
