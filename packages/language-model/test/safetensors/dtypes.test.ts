import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bfloat16BitsToFloat32Bits,
  decodeHalf,
  encodeHalf,
  float16BitsToFloat32Bits,
  float32BitsToBfloat16Bits,
  float32BitsToFloat16Bits,
} from "../../src/safetensors/dtypes.js";

const view = new DataView(new ArrayBuffer(4));
const bitsToF32 = (bits: number) => {
  view.setUint32(0, bits >>> 0);
  return view.getFloat32(0);
};
const f32ToBits = (x: number) => {
  view.setFloat32(0, x);
  return view.getUint32(0);
};

/** float16 value by the IEEE formula, in float64 (independent of the decoder under test). */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : Number.NaN;
  return sign * (e === 0 ? m * 2 ** -24 : (1024 + m) * 2 ** (e - 25));
}

const allF16 = Uint16Array.from({ length: 65536 }, (_, i) => i);
const isNaNF16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBF16 = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;

/** Nearest float16 by search over every finite value, ties to even: an independent encoder. */
const positiveF16 = Array.from({ length: 0x7c00 }, (_, h) => f16Value(h)); // 0 .. 65504, ascending
function referenceF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp (16) ties to the even neighbour, inf
  let lo = 0;
  let hi = positiveF16.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (positiveF16[mid]! <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === positiveF16.length - 1) return sign | lo;
  const below = a - positiveF16[lo]!;
  const above = positiveF16[lo + 1]! - a;
  if (below < above) return sign | lo;
  if (above < below) return sign | (lo + 1);
  return sign | (lo % 2 === 0 ? lo : lo + 1);
}

/** Nearest bfloat16 by comparing the two truncation neighbours in float64, ties to even. */
function referenceBF16(bits: number): number {
  const x = bitsToF32(bits);
  const lo = bits & 0xffff0000;
  const loValue = bitsToF32(lo);
  const hiBits = (lo + 0x10000) >>> 0;
  const hiExponentMax = (hiBits & 0x7f800000) === 0x7f800000;
  const hiValue = hiExponentMax ? Math.sign(x) * 2 ** 128 : bitsToF32(hiBits);
  const below = Math.abs(x - loValue);
  const above = Math.abs(hiValue - x);
  const pick = below < above ? lo : above < below ? hiBits : ((lo >>> 16) & 1) === 0 ? lo : hiBits;
  return (pick >>> 16) & 0xffff;
}

describe("F16", () => {
  it("decodes all 65536 bit patterns to the IEEE value (NaN patterns to NaN)", () => {
    const decoded = decodeHalf("F16", allF16);
    let checked = 0;
    for (let h = 0; h < 65536; h++) {
      const expected = f16Value(h);
      if (Number.isNaN(expected)) expect(Number.isNaN(decoded[h]!)).toBe(true);
      else expect(Object.is(decoded[h], expected), `0x${h.toString(16)}`).toBe(true);
      checked++;
    }
    expect(checked).toBe(65536);
  });

  it("decode then encode reproduces every bit pattern, NaN payloads and signs included", () => {
    const back = encodeHalf("F16", decodeHalf("F16", allF16));
    const wrong = allF16.filter((h, i) => back[i] !== h);
    expect(wrong.length).toBe(0);
  });

  it("rounds to nearest, ties to even, matching an exhaustive-search reference at the hard cases", () => {
    const cases = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      -65520,
      70000,
      1e30,
      Infinity,
      -Infinity,
      2 ** -24,
      2 ** -25,
      -(2 ** -25),
      2 ** -25 * 1.0000001,
      2 ** -24 * 1.5,
      2 ** -24 * 2.5,
      2 ** -14,
      2 ** -14 - 2 ** -25,
      2 ** -14 - 2 ** -26,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      1 + 2 ** -11 + 2 ** -23,
      2048 + 1,
      2048 + 3,
      1e-8,
      1e-30,
      bitsToF32(1),
      0.1,
      1 / 3,
      -123.456,
    ];
    for (const x of cases) {
      const bits = f32ToBits(x);
      expect(float32BitsToFloat16Bits(bits), `${x}`).toBe(referenceF16(bitsToF32(bits)));
    }
  });

  it("matches the reference on 200k pseudo-random float32 bit patterns across the float16 range", () => {
    let s = 12345;
    let mismatches = 0;
    for (let i = 0; i < 200_000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // Exponents 2^-30 .. 2^17 and random mantissas: subnormals, normals, overflow.
      const exponent = 97 + (s % 48);
      const bits = (((s & 1) << 31) | (exponent << 23) | ((Math.imul(s, 2654435761) >>> 9) & 0x7fffff)) >>> 0;
      if (float32BitsToFloat16Bits(bits) !== referenceF16(bitsToF32(bits))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("matches numpy's astype(float16) on the committed fixture", () => {
    const fixture = JSON.parse(readFileSync(new URL("./fixtures/f16_numpy.json", import.meta.url), "utf8")) as {
      f32Bits: number[];
      f16Bits: number[];
    };
    expect(fixture.f32Bits.length).toBeGreaterThan(1000);
    const ours = fixture.f32Bits.map((b) => float32BitsToFloat16Bits(b));
    expect(ours).toEqual(fixture.f16Bits);
  });

  it("keeps a float32 NaN a NaN, with its sign, even when its payload lies below float16's bits", () => {
    const h = float32BitsToFloat16Bits(0xff800001); // negative NaN, payload only in the low bit
    expect(isNaNF16(h)).toBe(true);
    expect(h & 0x8000).toBe(0x8000);
    expect(float16BitsToFloat32Bits(0x7e00)).toBe(0x7fc00000);
  });
});

describe("BF16", () => {
  it("decode then encode reproduces every bit pattern, NaNs included", () => {
    const decoded = decodeHalf("BF16", allF16);
    for (let b = 0; b < 65536; b += 4099) expect(f32ToBits(decoded[b]!) >>> 16).toBe(b); // spot check without NaN canonicalisation
    const back = encodeHalf("BF16", decoded);
    const wrong = allF16.filter((b, i) => back[i] !== b);
    expect(wrong.length).toBe(0);
    expect(bfloat16BitsToFloat32Bits(0x3f80)).toBe(0x3f800000);
  });

  it("rounds to nearest, ties to even, overflowing to inf like the reference", () => {
    const cases = [
      0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0x7f7fffff, 0x7f7f7fff, 0x7f7f8000, 0xff7f8000, 0x00000001,
      0x80008000, 0x00018000, 0x7f800000, 0xff800000,
    ];
    for (const bits of cases) {
      expect(float32BitsToBfloat16Bits(bits), `0x${bits.toString(16)}`).toBe(referenceBF16(bits));
    }
    let s = 777;
    let mismatches = 0;
    for (let i = 0; i < 200_000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const bits = s;
      if ((bits & 0x7f800000) === 0x7f800000) continue; // inf/NaN covered above and by the round trip
      if (float32BitsToBfloat16Bits(bits) !== referenceBF16(bits)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("keeps a NaN whose payload lies entirely in the dropped bits a NaN", () => {
    expect(isNaNBF16(float32BitsToBfloat16Bits(0x7f800001))).toBe(true);
    expect(isNaNBF16(float32BitsToBfloat16Bits(0xffc00000))).toBe(true);
  });
});
