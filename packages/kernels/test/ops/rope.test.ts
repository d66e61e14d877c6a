import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { applyRope, type Llama3RopeScaling, ropeInverseFrequencies, ropeTables } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { finiteDifferenceVjp, maxAbs, scaledMaxError, tfVjp } from "../support/finiteDifferences.js";
import { float64Rope, float64RopeInverseFrequencies, type HfLlama3RopeScaling } from "../support/float64Ops.js";
import { maxAbsDiff, seededValues } from "../support/reference.js";

/** Llama 3.1's rope_scaling, in Hugging Face's spelling and in ours. */
const HF_LLAMA3: HfLlama3RopeScaling = {
  factor: 8,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: 8192,
};
const LLAMA3: Llama3RopeScaling = {
  ropeType: "llama3",
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
};

interface TableOptions {
  theta?: number;
  offset?: number;
  scaling?: Llama3RopeScaling;
}

/** Builds the tables, applies them to x and returns the result (inside one tidy). */
function ropeOut(xv: Float32Array, shape: number[], opts: TableOptions) {
  return tf.tidy(() => {
    const { cos, sin } = ropeTables({ headDim: shape[3]!, seqLen: shape[2]!, ...opts });
    return applyRope(tf.tensor(xv, shape), cos, sin);
  });
}

describeEachBackend("rope", () => {
  it("inverse frequencies without scaling are θ^(−2i/D)", () => {
    const inv = ropeInverseFrequencies(8, 10000);
    expect(Array.from(inv)).toHaveLength(4);
    const expected = [1, 0.1, 0.01, 0.001];
    for (let i = 0; i < 4; i++) expect(inv[i]).toBeCloseTo(expected[i]!, 12);
  });

  it("Llama-3 scaling matches Hugging Face's _compute_llama3_parameters in all three bands", () => {
    const headDim = 64;
    const theta = 500000;
    const ours = ropeInverseFrequencies(headDim, theta, LLAMA3);
    const hf = float64RopeInverseFrequencies(headDim, theta, HF_LLAMA3);
    const plain = float64RopeInverseFrequencies(headDim, theta);
    expect(ours).toHaveLength(32);
    const bands = { high: 0, medium: 0, low: 0 };
    for (let i = 0; i < 32; i++) {
      const wavelen = (2 * Math.PI) / plain[i]!;
      expect(Math.abs(ours[i]! - hf[i]!) / hf[i]!).toBeLessThan(1e-12);
      if (wavelen < 8192 / 4) {
        bands.high++;
        expect(ours[i]! / plain[i]!).toBeCloseTo(1, 12); // kept
      } else if (wavelen > 8192 / 1) {
        bands.low++;
        expect(ours[i]! / plain[i]!).toBeCloseTo(1 / 8, 12); // divided by factor
      } else {
        bands.medium++;
        // Interpolated: strictly between the two, by the smooth factor.
        const ratio = ours[i]! / plain[i]!;
        expect(ratio).toBeGreaterThan(1 / 8);
        expect(ratio).toBeLessThan(1);
        const smooth = (8192 / wavelen - 1) / (4 - 1);
        expect(ratio).toBeCloseTo((1 - smooth) / 8 + smooth, 12);
      }
    }
    // 500000^(−2i/64) puts i ≤ 14 in the high band, 15..17 in the medium band and 18..31 in the low band.
    expect(bands).toEqual({ high: 15, medium: 3, low: 14 });
    // Spot values from the formula: i = 0 is untouched, i = 31 is divided by 8.
    expect(ours[0]).toBe(1);
    expect(ours[31]! * 8).toBeCloseTo(500000 ** (-62 / 64), 15);
  });

  it("tables are cat(freqs, freqs) with freqs = position · inv_freq, at an offset", () => {
    const headDim = 6;
    const offset = 3;
    const inv = float64RopeInverseFrequencies(headDim, 100);
    const { cos, sin } = ropeTables({ headDim, seqLen: 4, theta: 100, offset });
    const cv = cos.dataSync();
    const sv = sin.dataSync();
    expect(cos.shape).toEqual([4, 6]);
    expect(sin.shape).toEqual([4, 6]);
    for (let p = 0; p < 4; p++) {
      for (let j = 0; j < headDim; j++) {
        const angle = (p + offset) * inv[j % 3]!;
        expect(Math.abs(cv[p * headDim + j]! - Math.cos(angle))).toBeLessThan(1e-7);
        expect(Math.abs(sv[p * headDim + j]! - Math.sin(angle))).toBeLessThan(1e-7);
      }
    }
    tf.dispose([cos, sin]);
  });

  it("rotates each (i, i + D/2) pair: a unit vector on i goes to cos·eᵢ + sin·e_{i+D/2}", () => {
    // rotate_half([x₁, x₂]) = [−x₂, x₁]; the interleaved (GPT-J) convention would instead move e₀ to e₁.
    const shape = [1, 1, 3, 4];
    const xv = new Float32Array(12);
    for (let p = 0; p < 3; p++) xv[p * 4] = 1;
    const out = ropeOut(xv, shape, { theta: 10000 });
    const values = out.dataSync();
    for (let p = 0; p < 3; p++) {
      const row = Array.from(values.subarray(p * 4, p * 4 + 4));
      expect(row[0]).toBeCloseTo(Math.cos(p), 6);
      expect(row[1]).toBeCloseTo(0, 6);
      expect(row[2]).toBeCloseTo(Math.sin(p), 6);
      expect(row[3]).toBeCloseTo(0, 6);
    }
    out.dispose();
  });

  const applyCases = [
    { name: "B=2, H=3, L=5, D=8", shape: [2, 3, 5, 8], theta: 10000, offset: 0, llama3: false },
    { name: "D=6 (odd half), offset 7", shape: [1, 2, 4, 6], theta: 10000, offset: 7, llama3: false },
    { name: "Llama-3 scaling, D=64, offset 9000", shape: [1, 2, 3, 64], theta: 500000, offset: 9000, llama3: true },
  ];

  for (const c of applyCases) {
    const tableOptions: TableOptions = { theta: c.theta, offset: c.offset, ...(c.llama3 ? { scaling: LLAMA3 } : {}) };
    const invFreq = () => float64RopeInverseFrequencies(c.shape[3]!, c.theta, c.llama3 ? HF_LLAMA3 : undefined);

    it(`applyRope ${c.name} matches float64`, () => {
      const xv = seededValues(c.shape, 11);
      const out = ropeOut(xv, c.shape, tableOptions);
      expect(out.shape).toEqual(c.shape);
      const ref = float64Rope(xv, c.shape, invFreq(), c.offset);
      // The tables are computed in float64 and rounded once, so even angles of ~9000 rad stay accurate.
      expect(maxAbsDiff(out.dataSync(), ref)).toBeLessThan(1e-5);
      out.dispose();
    });

    it(`applyRope ${c.name}: gradient for x matches finite differences`, () => {
      const xv = seededValues(c.shape, 12);
      const dy = seededValues(c.shape, 13);
      const { cos, sin } = ropeTables({ headDim: c.shape[3]!, seqLen: c.shape[2]!, ...tableOptions });
      const [gx] = tfVjp((x) => applyRope(x, cos, sin), [{ values: xv, shape: c.shape }], {
        values: dy,
        shape: c.shape,
      });
      tf.dispose([cos, sin]);
      const inv = invFreq();
      const [fx] = finiteDifferenceVjp(([x]) => float64Rope(x!, c.shape, inv, c.offset), [xv], dy);
      expect(maxAbs(fx!)).toBeGreaterThan(1e-2);
      expect(scaledMaxError(gx!, fx!)).toBeLessThan(1e-3);
    });
  }

  it("preserves the norm of each (i, i + D/2) pair", () => {
    const shape = [2, 2, 5, 8];
    const xv = seededValues(shape, 14);
    const out = ropeOut(xv, shape, { theta: 10000, offset: 2 });
    const values = out.dataSync();
    for (let row = 0; row < 20; row++) {
      for (let i = 0; i < 4; i++) {
        const a = row * 8 + i;
        const before = Math.hypot(xv[a]!, xv[a + 4]!);
        const after = Math.hypot(values[a]!, values[a + 4]!);
        expect(Math.abs(after - before)).toBeLessThan(1e-6);
      }
    }
    out.dispose();
  });

  it("applyRope names the op and the shapes on a wrong rank, odd D or mismatched tables", () => {
    const { cos, sin } = ropeTables({ headDim: 8, seqLen: 5 });
    const x3 = tf.zeros([2, 5, 8]);
    expect(() => applyRope(x3, cos, sin)).toThrow(/applyRope.*x.*rank 4.*\[2, 5, 8\]/);
    const xLong = tf.zeros([1, 2, 6, 8]);
    expect(() => applyRope(xLong, cos, sin)).toThrow(/applyRope.*cos.*\[6, 8\].*\[1, 2, 6, 8\].*\[5, 8\]/);
    const xOdd = tf.zeros([1, 1, 5, 7]);
    expect(() => applyRope(xOdd, cos, sin)).toThrow(/applyRope.*\[1, 1, 5, 7\].*even/);
    const x = tf.zeros([1, 1, 5, 8]);
    const sinBad = tf.zeros([5, 4]);
    expect(() => applyRope(x, cos, sinBad)).toThrow(/applyRope.*sin.*\[5, 4\]/);
    tf.dispose([cos, sin, x3, xLong, xOdd, x, sinBad]);
  });

  it("the frequency and table builders name themselves and the bad value", () => {
    expect(() => ropeInverseFrequencies(7)).toThrow(/ropeInverseFrequencies.*headDim.*7/);
    expect(() => ropeInverseFrequencies(8, -1)).toThrow(/ropeInverseFrequencies.*theta.*-1/);
    expect(() => ropeInverseFrequencies(8, 10000, { ...LLAMA3, factor: 0 })).toThrow(
      /ropeInverseFrequencies.*factor.*0/,
    );
    expect(() => ropeInverseFrequencies(8, 10000, { ...LLAMA3, highFreqFactor: 1 })).toThrow(
      /ropeInverseFrequencies.*highFreqFactor.*1/,
    );
    expect(() => ropeInverseFrequencies(8, 10000, { ...LLAMA3, ropeType: "dynamic" as unknown as "llama3" })).toThrow(
      /ropeInverseFrequencies.*dynamic/,
    );
    expect(() => ropeTables({ headDim: 8, seqLen: 0 })).toThrow(/ropeTables.*seqLen.*0/);
    expect(() => ropeTables({ headDim: 8, seqLen: 4, offset: -1 })).toThrow(/ropeTables.*offset.*-1/);
  });
});
