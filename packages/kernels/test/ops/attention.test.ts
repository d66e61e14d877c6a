import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { causalSelfAttention } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { type Float64AttentionShape, float64CausalAttention } from "../support/float64Ops.js";
import { maxAbsDiff, seededValues } from "../support/reference.js";

interface Case extends Float64AttentionShape {
  name: string;
  /** Number of real tokens per batch row (the rest is right padding); no mask when absent. */
  lengths?: number[];
  scale?: number;
}

const cases: Case[] = [
  { name: "GQA H/Hkv=2", b: 2, h: 4, hkv: 2, l: 5, d: 8 },
  { name: "MHA H/Hkv=1", b: 2, h: 4, hkv: 4, l: 5, d: 8 },
  { name: "MQA H/Hkv=3, odd sizes", b: 1, h: 3, hkv: 1, l: 7, d: 5 },
  { name: "GQA with the last 2 keys of batch row 1 padded", b: 2, h: 4, hkv: 2, l: 5, d: 8, lengths: [5, 3] },
  { name: "MHA with padding in both rows and scale 0.7", b: 2, h: 2, hkv: 2, l: 6, d: 3, lengths: [4, 2], scale: 0.7 },
];

const qShape = (c: Float64AttentionShape) => [c.b, c.h, c.l, c.d];
const kvShape = (c: Float64AttentionShape) => [c.b, c.hkv, c.l, c.d];

function maskValues(c: Case): Float32Array | undefined {
  if (!c.lengths) return undefined;
  const m = new Float32Array(c.b * c.l);
  for (let b = 0; b < c.b; b++) for (let j = 0; j < c.lengths[b]!; j++) m[b * c.l + j] = 1;
  return m;
}

function inputs(c: Case, seed: number) {
  // Scale 2 gives peaked, far-from-uniform attention weights.
  return {
    q: seededValues(qShape(c), seed, 2),
    k: seededValues(kvShape(c), seed + 1, 2),
    v: seededValues(kvShape(c), seed + 2),
  };
}

function options(c: Case, mask: Float32Array | undefined) {
  return {
    ...(mask ? { keyPaddingMask: tf.tensor(mask, [c.b, c.l]) } : {}),
    ...(c.scale !== undefined ? { scale: c.scale } : {}),
  };
}

function run(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, mask = maskValues(c)): Float32Array {
  const out = tf.tidy(() =>
    causalSelfAttention(tf.tensor(q, qShape(c)), tf.tensor(k, kvShape(c)), tf.tensor(v, kvShape(c)), options(c, mask)),
  );
  expect(out.shape).toEqual(qShape(c));
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

function reference(c: Case, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>): Float64Array {
  const mask = maskValues(c);
  return float64CausalAttention(q, k, v, c, {
    ...(mask ? { mask } : {}),
    ...(c.scale !== undefined ? { scale: c.scale } : {}),
  });
}

/** Flat index of element (b, head, pos, ch) in a [B, heads, L, D] tensor. */
const index = (c: Float64AttentionShape, heads: number, b: number, head: number, pos: number, ch: number) =>
  ((b * heads + head) * c.l + pos) * c.d + ch;

describeEachBackend("causalSelfAttention", () => {
  for (const c of cases) {
    it(`${c.name}: forward matches float64`, () => {
      const { q, k, v } = inputs(c, 1);
      const ref = reference(c, q, k, v);
      expect(maxAbsDiff(run(c, q, k, v), ref)).toBeLessThan(1e-5);
    });

    it(`${c.name}: gradients for q, k and v match finite differences`, () => {
      const { q, k, v } = inputs(c, 4);
      const dy = seededValues(qShape(c), 7);
      const mask = maskValues(c);
      const analytic = tfVjp(
        (qt, kt, vt) => tf.tidy(() => causalSelfAttention(qt, kt, vt, options(c, mask))),
        [
          { values: q, shape: qShape(c) },
          { values: k, shape: kvShape(c) },
          { values: v, shape: kvShape(c) },
        ],
        { values: dy, shape: qShape(c) },
      );
      const numeric = finiteDifferenceVjp(([qv, kv, vv]) => reference(c, qv!, kv!, vv!), [q, k, v], dy);
      const names = ["q", "k", "v"];
      for (let i = 0; i < 3; i++) {
        expect(maxAbs(numeric[i]!), names[i]).toBeGreaterThan(1e-2);
        expect(scaledMaxError(analytic[i]!, numeric[i]!), names[i]).toBeLessThan(1e-3);
      }
    });
  }

  it("query head h reads kv head ⌊h / (H/Hkv)⌋ (repeat_interleave), not h mod Hkv", () => {
    const c: Case = { name: "", b: 1, h: 4, hkv: 2, l: 3, d: 4 };
    const { q, k } = inputs(c, 10);
    // v is constant per kv head: kv head 0 → 1, kv head 1 → 2, so every output value names its kv head.
    const v = new Float32Array(c.b * c.hkv * c.l * c.d);
    v.fill(1, 0, c.l * c.d);
    v.fill(2, c.l * c.d);
    const out = run(c, q, k, v);
    const expectedHead = [1, 1, 2, 2];
    for (let h = 0; h < 4; h++) {
      for (let i = 0; i < c.l; i++) {
        for (let ch = 0; ch < c.d; ch++) expect(out[index(c, c.h, 0, h, i, ch)]).toBeCloseTo(expectedHead[h]!, 6);
      }
    }
  });

  it("is causal: changing a future token does not change earlier outputs", () => {
    const c: Case = { name: "", b: 2, h: 4, hkv: 2, l: 6, d: 8 };
    const t = 3;
    const { q, k, v } = inputs(c, 20);
    const before = run(c, q, k, v);
    const [q2, k2, v2] = [q.slice(), k.slice(), v.slice()];
    for (let b = 0; b < c.b; b++) {
      for (let ch = 0; ch < c.d; ch++) {
        for (let h = 0; h < c.h; h++) q2[index(c, c.h, b, h, t, ch)] = 5;
        for (let h = 0; h < c.hkv; h++) {
          k2[index(c, c.hkv, b, h, t, ch)] = -3 + ch;
          v2[index(c, c.hkv, b, h, t, ch)] = 10;
        }
      }
    }
    const after = run(c, q2, k2, v2);
    for (let b = 0; b < c.b; b++) {
      for (let h = 0; h < c.h; h++) {
        for (let i = 0; i < c.l; i++) {
          let change = 0;
          for (let ch = 0; ch < c.d; ch++) {
            const at = index(c, c.h, b, h, i, ch);
            change = Math.max(change, Math.abs(after[at]! - before[at]!));
          }
          if (i < t) expect(change, `b=${b} h=${h} position ${i}`).toBeLessThan(1e-6);
          else expect(change, `b=${b} h=${h} position ${i}`).toBeGreaterThan(1e-2);
        }
      }
    }
    expect(maxAbsDiff(after, reference(c, q2, k2, v2))).toBeLessThan(1e-5);
  });

  it("is causal in the backward pass: outputs before t send no gradient to keys and values at t or later", () => {
    const c: Case = { name: "", b: 1, h: 2, hkv: 1, l: 5, d: 4 };
    const t = 2;
    const { q, k, v } = inputs(c, 30);
    const dy = seededValues(qShape(c), 31);
    for (let h = 0; h < c.h; h++) dy.fill(0, index(c, c.h, 0, h, t, 0), index(c, c.h, 0, h + 1, 0, 0));
    const [, gk, gv] = tfVjp(
      (qt, kt, vt) => causalSelfAttention(qt, kt, vt),
      [
        { values: q, shape: qShape(c) },
        { values: k, shape: kvShape(c) },
        { values: v, shape: kvShape(c) },
      ],
      { values: dy, shape: qShape(c) },
    );
    const split = index(c, c.hkv, 0, 0, t, 0);
    expect(maxAbs(gk!.subarray(split))).toBeLessThan(1e-7);
    expect(maxAbs(gv!.subarray(split))).toBeLessThan(1e-7);
    expect(maxAbs(gk!.subarray(0, split))).toBeGreaterThan(1e-3);
    expect(maxAbs(gv!.subarray(0, split))).toBeGreaterThan(1e-3);
  });

  it("padded keys get no attention: changing them leaves the padded batch row unchanged", () => {
    const c = cases[3]!; // batch row 1 has length 3 of 5
    const { q, k, v } = inputs(c, 40);
    const before = run(c, q, k, v);
    const [k2, v2] = [k.slice(), v.slice()];
    for (let h = 0; h < c.hkv; h++) {
      for (let j = 3; j < c.l; j++) {
        for (let ch = 0; ch < c.d; ch++) {
          k2[index(c, c.hkv, 1, h, j, ch)] = 4;
          v2[index(c, c.hkv, 1, h, j, ch)] = -7;
        }
      }
    }
    const after = run(c, q, k2, v2);
    const row = c.h * c.l * c.d;
    // Row 1 (every query, real or padded) ignores its padded keys.
    expect(maxAbsDiff(after.subarray(row), before.subarray(row))).toBeLessThan(1e-6);
    // Without the mask the same change is visible to queries at positions ≥ 3.
    const unmasked: Case = { name: "", b: c.b, h: c.h, hkv: c.hkv, l: c.l, d: c.d };
    const a = run(unmasked, q, k, v);
    const b = run(unmasked, q, k2, v2);
    expect(maxAbsDiff(a.subarray(row), b.subarray(row))).toBeGreaterThan(1e-2);
    // And the mask of row 1 does not leak into row 0.
    expect(maxAbsDiff(before.subarray(0, row), a.subarray(0, row))).toBeLessThan(1e-6);
  });

  it("padded keys get no gradient", () => {
    const c = cases[3]!;
    const { q, k, v } = inputs(c, 45);
    const dy = seededValues(qShape(c), 46);
    const mask = maskValues(c);
    const [gq, gk, gv] = tfVjp(
      (qt, kt, vt) => tf.tidy(() => causalSelfAttention(qt, kt, vt, options(c, mask))),
      [
        { values: q, shape: qShape(c) },
        { values: k, shape: kvShape(c) },
        { values: v, shape: kvShape(c) },
      ],
      { values: dy, shape: qShape(c) },
    );
    expect(maxAbs(gq!)).toBeGreaterThan(1e-3);
    for (let h = 0; h < c.hkv; h++) {
      const from = index(c, c.hkv, 1, h, 3, 0);
      const to = index(c, c.hkv, 1, h + 1, 0, 0);
      expect(maxAbs(gk!.subarray(from, to))).toBeLessThan(1e-7);
      expect(maxAbs(gv!.subarray(from, to))).toBeLessThan(1e-7);
      expect(maxAbs(gv!.subarray(index(c, c.hkv, 1, h, 0, 0), from))).toBeGreaterThan(1e-3);
    }
  });

  for (const c of [cases[0]!, cases[3]!]) {
    it(`${c.name}: recomputing the probabilities in backward gives the same gradients, the mask disposed before backward`, () => {
      const { q, k, v } = inputs(c, 47);
      const dy = seededValues(qShape(c), 48);
      const mask = maskValues(c);
      const grads = (recomputeProbabilities: boolean) =>
        tfVjp(
          (qt, kt, vt) =>
            tf.tidy(() => {
              // The mask lives only in forward, as the decoder's does (its forward tidy ends first).
              const m = mask ? tf.tensor2d(mask, [c.b, c.l]) : undefined;
              return causalSelfAttention(qt, kt, vt, {
                ...(m ? { keyPaddingMask: m } : {}),
                recomputeProbabilities,
              });
            }),
          [
            { values: q, shape: qShape(c) },
            { values: k, shape: kvShape(c) },
            { values: v, shape: kvShape(c) },
          ],
          { values: dy, shape: qShape(c) },
        );
      const kept = grads(false);
      const recomputed = grads(true);
      for (let i = 0; i < 3; i++) expect(maxAbsDiff(recomputed[i]!, kept[i]!)).toBeLessThan(1e-6);
    });
  }

  it("accepts an int32 or bool padding mask", () => {
    const c = cases[3]!;
    const { q, k, v } = inputs(c, 50);
    const ref = reference(c, q, k, v);
    for (const dtype of ["int32", "bool"] as const) {
      const out = tf.tidy(() =>
        causalSelfAttention(tf.tensor(q, qShape(c)), tf.tensor(k, kvShape(c)), tf.tensor(v, kvShape(c)), {
          keyPaddingMask: tf.tensor(maskValues(c)!, [c.b, c.l], dtype),
        }),
      );
      expect(maxAbsDiff(out.dataSync(), ref), dtype).toBeLessThan(1e-5);
      out.dispose();
    }
  });

  it("a query whose every visible key is padded stays finite", () => {
    // Left padding: position 0 sees only itself, and it is padding.
    const c: Case = { name: "", b: 1, h: 2, hkv: 1, l: 4, d: 4 };
    const { q, k, v } = inputs(c, 60);
    const out = run(c, q, k, v, Float32Array.from([0, 1, 1, 1]));
    expect(out.every(Number.isFinite)).toBe(true);
    // The real queries (positions 1..3) still match the reference that drops padded keys.
    const ref = float64CausalAttention(q, k, v, c, { mask: [0, 1, 1, 1] });
    for (let h = 0; h < c.h; h++) {
      const from = index(c, c.h, 0, h, 1, 0);
      const to = index(c, c.h, 0, h + 1, 0, 0);
      expect(maxAbsDiff(out.subarray(from, to), ref.subarray(from, to))).toBeLessThan(1e-5);
    }
  });

  it("names the op and the shapes on wrong ranks, mismatched shapes and head counts", () => {
    const q = tf.zeros([2, 4, 5, 8]);
    const k = tf.zeros([2, 2, 5, 8]);
    const v = tf.zeros([2, 2, 5, 8]);
    const q3 = tf.zeros([2, 5, 8]);
    expect(() => causalSelfAttention(q3, k, v)).toThrow(/causalSelfAttention.*q.*rank 4.*\[2, 5, 8\]/);
    const k3 = tf.zeros([2, 5, 8]);
    expect(() => causalSelfAttention(q, k3, v)).toThrow(/causalSelfAttention.*k.*rank 4.*\[2, 5, 8\]/);
    const kD = tf.zeros([2, 2, 5, 6]);
    expect(() => causalSelfAttention(q, kD, v)).toThrow(/causalSelfAttention.*k.*\[2, 4, 5, 8\].*\[2, 2, 5, 6\]/);
    const kL = tf.zeros([2, 2, 4, 8]);
    expect(() => causalSelfAttention(q, kL, v)).toThrow(/causalSelfAttention.*k.*\[2, 2, 4, 8\]/);
    const vH = tf.zeros([2, 1, 5, 8]);
    expect(() => causalSelfAttention(q, k, vH)).toThrow(/causalSelfAttention.*v.*\[2, 2, 5, 8\].*\[2, 1, 5, 8\]/);
    const k3h = tf.zeros([2, 3, 5, 8]);
    expect(() => causalSelfAttention(q, k3h, k3h)).toThrow(
      /causalSelfAttention.*\[2, 4, 5, 8\].*multiple.*\[2, 3, 5, 8\]/,
    );
    const k0 = tf.zeros([2, 0, 5, 8]);
    expect(() => causalSelfAttention(q, k0, k0)).toThrow(/causalSelfAttention.*\[2, 0, 5, 8\]/);
    const mask = tf.ones([2, 4]);
    expect(() => causalSelfAttention(q, k, v, { keyPaddingMask: mask })).toThrow(
      /causalSelfAttention.*keyPaddingMask.*\[2, 5\].*\[2, 4\]/,
    );
    expect(() => causalSelfAttention(q, k, v, { scale: Number.NaN })).toThrow(/causalSelfAttention.*scale.*NaN/);
    tf.dispose([q, k, v, q3, k3, kD, kL, vH, k3h, k0, mask]);
  });
});
