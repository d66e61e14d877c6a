import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CrossAttentionImplementation,
  type CrossDocumentAttentionOptions,
  crossDocumentAttention,
  documentWeights,
  fillPairMultipliers,
  IMPLEMENTATIONS,
  type WeightGradient,
} from "../src/index.js";
import { type Case, makeCase } from "./support/fixtures.js";
import { maxAbs, maxAbsDiff, referenceCrossAttention, seededValues } from "./support/reference.js";

/** Runs the op on a case (its masks included) and returns the output values. */
function run(c: Case, options: CrossDocumentAttentionOptions, w?: Float32Array): Float32Array {
  return tf.tidy(() => {
    const t = c.tensors();
    const weights = w ? tf.tensor2d(w, [c.b, c.b]) : t.w;
    const out = crossDocumentAttention(t.q, t.k, t.v, weights, {
      ...options,
      ...(t.keyMask ? { keyPaddingMask: t.keyMask } : {}),
      ...(t.queryMask ? { queryMask: t.queryMask } : {}),
      valueNorm: c.valueNorm,
    });
    expect(out.shape).toEqual([c.b, c.h, c.l, c.d]);
    return out.dataSync() as Float32Array;
  });
}

/** "1e-5 in float32 terms": absolute 1e-5 on outputs of size ~1. */
const TOL = 1e-5;

/** W with only each row's k largest entries kept (ties to the lower index), unrenormalised. */
function keepTopK(w: ArrayLike<number>, b: number, k: number): Float32Array {
  const out = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    const order = Array.from({ length: b }, (_, j) => j).sort(
      (x, y) => (w[i * b + y] as number) - (w[i * b + x] as number) || x - y,
    );
    for (const j of order.slice(0, k)) out[i * b + j] = w[i * b + j] as number;
  }
  return out;
}

const variants: { name: string; options: Parameters<typeof makeCase>[0] }[] = [
  { name: "plain", options: {} },
  { name: "no V-norm", options: { valueNorm: false } },
  { name: "padding + query mask", options: { padded: true, queryMask: true } },
  { name: "padding + query mask, no V-norm", options: { padded: true, queryMask: true, valueNorm: false } },
  { name: "B=4, MHA (H = Hkv), L=7", options: { b: 4, h: 2, hkv: 2, l: 7, d: 8, padded: true, seed: 5 } },
  { name: "B=4, 4 query heads per kv head", options: { b: 4, h: 4, hkv: 1, l: 6, d: 8, padded: true, seed: 9 } },
  { name: "W without zeros", options: { padded: true, queryMask: true, weights: "positive", seed: 12 } },
  { name: "one-hot W, chunks retrieved by nobody", options: { b: 4, padded: true, weights: "sparse", seed: 13 } },
];

describeEachBackend("crossDocumentAttention", () => {
  for (const variant of variants) {
    describe(variant.name, () => {
      const c = makeCase(variant.options);
      const ref = referenceCrossAttention(c);

      it("the reference is not trivially zero (the comparison can fail)", () => {
        expect(maxAbs(ref)).toBeGreaterThan(0.1);
      });

      for (const implementation of ["dense", "streaming"] as const) {
        it(`${implementation} matches the float64 loop`, () => {
          expect(maxAbsDiff(run(c, { implementation }), ref)).toBeLessThan(TOL);
        });
      }

      it("topk with k = B matches the float64 loop", () => {
        expect(maxAbsDiff(run(c, { implementation: "topk", topK: c.b }), ref)).toBeLessThan(TOL);
      });

      it("topk with k = B − 2 matches the float64 loop over each row's k largest W_ij", () => {
        const topK = c.b - 2; // W_ii = 0, so k = B − 1 would leave out nothing
        const w2 = keepTopK(c.w, c.b, topK);
        const ref2 = referenceCrossAttention({ ...c, w: w2 });
        expect(maxAbsDiff(run(c, { implementation: "topk", topK }), ref2)).toBeLessThan(TOL);
        // The pairs left out mattered (with one-hot rows they are all zero-weight).
        if (variant.options?.weights !== "sparse") expect(maxAbsDiff(ref2, ref)).toBeGreaterThan(1e-3);
      });
    });
  }

  it("topk with k = B−1 equals dense on weights from documentWeights", () => {
    const c = makeCase({ b: 4, padded: true, queryMask: true, seed: 3 });
    const w = tf.tidy(() => {
      const e = tf.tensor2d(seededValues([4, 6], 21), [4, 6]);
      const p = tf.tensor2d(seededValues([4, 6], 22), [4, 6]);
      return documentWeights(e, p, { temperature: 0.3 }).dataSync() as Float32Array;
    });
    const dense = run(c, { implementation: "dense" }, w);
    expect(maxAbsDiff(run(c, { implementation: "topk", topK: 3 }, w), dense)).toBeLessThan(TOL);
    expect(maxAbsDiff(run(c, { implementation: "streaming" }, w), dense)).toBeLessThan(TOL);
  });

  it("dropout: every implementation drops the same probabilities, as the float64 loop does with those masks", () => {
    const c = makeCase({ padded: true, queryMask: true, seed: 4 });
    const dropout = { rate: 0.3, seed: 1234 };
    const multiplier = (i: number, j: number) => {
      const m = new Float32Array(c.h * c.l * c.l);
      fillPairMultipliers(m, dropout, i, j, c.h, c.l, (head, row) => (head * c.l + row) * c.l);
      return m;
    };
    const ref = referenceCrossAttention({ ...c, multiplier });
    expect(maxAbsDiff(ref, referenceCrossAttention(c))).toBeGreaterThan(1e-2);
    for (const implementation of IMPLEMENTATIONS) {
      const options = { implementation, dropout, topK: c.b };
      expect(maxAbsDiff(run(c, options), ref), implementation).toBeLessThan(TOL);
    }
    // A different seed drops different probabilities; rate 0 is no dropout.
    expect(maxAbsDiff(run(c, { dropout: { rate: 0.3, seed: 99 } }), ref)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(run(c, { dropout: { rate: 0, seed: 1 } }), referenceCrossAttention(c))).toBeLessThan(TOL);
  });

  it("the dropout masks keep about 1 − rate of the probabilities", () => {
    const m = new Float32Array(8 * 32 * 32);
    fillPairMultipliers(m, { rate: 0.25, seed: 7 }, 2, 5, 8, 32, (h, r) => (h * 32 + r) * 32);
    const kept = m.filter((x) => x !== 0);
    expect(kept.length / m.length).toBeGreaterThan(0.72);
    expect(kept.length / m.length).toBeLessThan(0.78);
    expect(kept.every((x) => Math.abs(x - 1 / 0.75) < 1e-6)).toBe(true);
  });

  for (const implementation of IMPLEMENTATIONS) {
    describe(implementation, () => {
      it("a one-hot W reduces to attention over that single chunk", () => {
        const c = makeCase({ b: 3, padded: true, seed: 6, valueNorm: false });
        // Row i attends only to chunk (i + 1) mod B.
        const w = new Float32Array(9);
        for (let i = 0; i < 3; i++) w[i * 3 + ((i + 1) % 3)] = 1;
        const got = run(c, { implementation, topK: 1 }, w);
        const want = tf.tidy(() => {
          const t = c.tensors();
          const rep = c.h / c.hkv;
          const outs: tf.Tensor[] = [];
          for (let i = 0; i < 3; i++) {
            const j = (i + 1) % 3;
            const qi = tf.slice(t.q, [i, 0, 0, 0], [1, c.h, c.l, c.d]);
            const kj = tf.reshape(tf.tile(tf.slice(t.k, [j, 0, 0, 0], [1, c.hkv, c.l, c.d]), [rep, 1, 1, 1]), [
              rep,
              c.hkv,
              c.l,
              c.d,
            ]);
            const vj = tf.reshape(tf.tile(tf.slice(t.v, [j, 0, 0, 0], [1, c.hkv, c.l, c.d]), [rep, 1, 1, 1]), [
              rep,
              c.hkv,
              c.l,
              c.d,
            ]);
            // Query head h reads kv head ⌊h/rep⌋: order the repeated heads as (kv head, copy).
            const kh = tf.reshape(tf.transpose(kj, [1, 0, 2, 3]), [1, c.h, c.l, c.d]);
            const vh = tf.reshape(tf.transpose(vj, [1, 0, 2, 3]), [1, c.h, c.l, c.d]);
            const pad = tf.mul(tf.sub(1, tf.slice(t.keyMask!, [j, 0], [1, c.l])), -1e9);
            const s = tf.add(tf.div(tf.matMul(qi, kh, false, true), Math.sqrt(c.d)), tf.reshape(pad, [1, 1, 1, c.l]));
            outs.push(tf.matMul(tf.softmax(s), vh));
          }
          return tf.concat(outs).dataSync();
        });
        expect(maxAbsDiff(got, want)).toBeLessThan(TOL);
      });

      it("padded keys receive exactly zero weight: changing them changes nothing", () => {
        const c = makeCase({ padded: true, queryMask: true, seed: 8 });
        const before = run(c, { implementation, topK: 2 });
        const k = Float32Array.from(c.k);
        const v = Float32Array.from(c.v);
        for (let j = 0; j < c.b; j++) {
          for (let pos = 0; pos < c.l; pos++) {
            if (c.keyMask![j * c.l + pos] === 1) continue;
            for (let g = 0; g < c.hkv; g++) {
              const o = ((j * c.hkv + g) * c.l + pos) * c.d;
              k.fill(50, o, o + c.d); // would dominate any softmax it took part in
              v.fill(1e3, o, o + c.d);
            }
          }
        }
        const after = run(
          {
            ...c,
            k,
            v,
            tensors: () => ({
              ...c.tensors(),
              k: tf.tensor4d(k, [c.b, c.hkv, c.l, c.d]),
              v: tf.tensor4d(v, [c.b, c.hkv, c.l, c.d]),
            }),
          },
          { implementation, topK: 2 },
        );
        expect(maxAbsDiff(after, before)).toBe(0);
      });

      it("a chunk whose keys are all padding contributes zero, not NaN", () => {
        const c = makeCase({ b: 3, padded: true, seed: 10 });
        const mask = Float32Array.from(c.keyMask!);
        mask.fill(0, 2 * c.l, 3 * c.l); // chunk 2: no real key
        const c2 = { ...c, keyMask: mask, tensors: () => ({ ...c.tensors(), keyMask: tf.tensor2d(mask, [c.b, c.l]) }) };
        const got = run(c2, { implementation, topK: 3 });
        expect(got.every(Number.isFinite)).toBe(true);
        // Same as giving chunk 2 zero weight.
        const w0 = Float32Array.from(c.w);
        for (let i = 0; i < c.b; i++) w0[i * c.b + 2] = 0;
        expect(maxAbsDiff(got, referenceCrossAttention({ ...c2, w: w0 }))).toBeLessThan(TOL);
        expect(maxAbsDiff(got, run(c2, { implementation, topK: 3 }, w0))).toBe(0);
      });

      it("zeroes the term at masked query positions", () => {
        const c = makeCase({ queryMask: true, seed: 11 });
        const got = run(c, { implementation, topK: 2 });
        for (let i = 0; i < c.b; i++) {
          for (let hh = 0; hh < c.h; hh++) {
            for (let r = 0; r < 2; r++) {
              const o = ((i * c.h + hh) * c.l + r) * c.d;
              expect(got.subarray(o, o + c.d).every((x) => x === 0)).toBe(true);
            }
          }
        }
        expect(maxAbs(got)).toBeGreaterThan(0.1);
      });
    });
  }
});

describeEachBackend("crossDocumentAttention input checks", () => {
  let q: tf.Tensor;
  let k: tf.Tensor;
  let w: tf.Tensor;
  beforeAll(() => {
    q = tf.zeros([4, 8, 16, 32]);
    k = tf.zeros([4, 4, 16, 32]);
    w = tf.zeros([4, 4]);
  });
  afterAll(() => tf.dispose([q, k, w]));

  it("names both shapes when W's batch differs from the cache's", () => {
    expect(() => crossDocumentAttention(q, k, k, tf.zeros([3, 3]))).toThrow(
      /crossDocumentAttention: weights must have shape \[4, 4\] .*k \[4, 4, 16, 32\].*got \[3, 3\]/,
    );
    expect(() => crossDocumentAttention(q, tf.zeros([3, 4, 16, 32]), tf.zeros([3, 4, 16, 32]), w)).toThrow(
      /k must have shape \[4, \*, 16, 32\] .*q \[4, 8, 16, 32\].*got \[3, 4, 16, 32\]/,
    );
  });

  it("names both shapes when query heads are not a multiple of kv heads", () => {
    const k3 = tf.zeros([4, 3, 16, 32]);
    expect(() => crossDocumentAttention(q, k3, k3, w)).toThrow(
      /query heads \(8, q \[4, 8, 16, 32\]\) must be a multiple of kv heads \(3, k \[4, 3, 16, 32\]\)/,
    );
  });

  it("rejects mismatched v, masks that are not 0/1, a bad topK or implementation", () => {
    expect(() => crossDocumentAttention(q, k, tf.zeros([4, 4, 16, 16]), w)).toThrow(
      /v must have shape \[4, 4, 16, 32\]/,
    );
    expect(() => crossDocumentAttention(q, k, k, w, { keyPaddingMask: tf.fill([4, 16], 0.5) })).toThrow(
      /keyPaddingMask must hold only 0 and 1.*got 0.5 at \[0, 0\] of \[4, 16\]/,
    );
    expect(() => crossDocumentAttention(q, k, k, w, { queryMask: tf.ones([4, 15]) })).toThrow(
      /queryMask must have shape \[4, 16\]/,
    );
    expect(() => crossDocumentAttention(q, k, k, w, { implementation: "topk", topK: 5 })).toThrow(
      /topK must be an integer from 1 to 4, got 5/,
    );
    expect(() =>
      crossDocumentAttention(q, k, k, w, { implementation: "sparse" as CrossAttentionImplementation }),
    ).toThrow(/crossDocumentAttention: implementation must be one of "dense", "streaming", "topk", got "sparse"/);
    expect(() => crossDocumentAttention(q, k, k, w, { dropout: { rate: 1, seed: 1 } })).toThrow(
      /dropout.rate must be a number in \[0, 1\)/,
    );
    expect(() => crossDocumentAttention(q, k, k, w, { weightGradient: "some" as WeightGradient })).toThrow(
      /weightGradient must be one of all, support, got "some"/,
    );
  });
});
