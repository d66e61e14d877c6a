/**
 * safetensors dtypes: their element sizes, and conversion of the floating-point ones to and from
 * float32 (what tfjs computes in).
 *
 * Every conversion goes through integer views of the bits, never through a JS number, so that NaN
 * payloads survive: reading an F16 or BF16 tensor into a Float32Array and writing it back with the
 * same dtype reproduces every one of the 65536 bit patterns, NaNs included (a JS number round trip
 * may canonicalise a NaN, which would break bit-exact round trips of checkpoints).
 */

/** Element size in bytes of every dtype the safetensors format defines with whole-byte elements. */
const ELEMENT_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
} as const;

/** A dtype the header parser accepts. Only the {@link FloatDtype}s can be read into float32. */
export type SafetensorsDtype = keyof typeof ELEMENT_BYTES;

/** The dtypes this package reads into, and writes from, a Float32Array. */
export type FloatDtype = "F32" | "F16" | "BF16";

export const FLOAT_DTYPES: readonly FloatDtype[] = ["F32", "F16", "BF16"];

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.hasOwn(ELEMENT_BYTES, value);
}

export function isFloatDtype(value: unknown): value is FloatDtype {
  return value === "F32" || value === "F16" || value === "BF16";
}

export function dtypeByteSize(dtype: SafetensorsDtype): number {
  return ELEMENT_BYTES[dtype];
}

/** All known dtype names, for error messages. */
export function knownDtypes(): string[] {
  return Object.keys(ELEMENT_BYTES);
}

/**
 * The order the reference writer (Rust `safetensors`, used by torch and transformers) lays tensors
 * out in: by descending dtype alignment, then by name. Higher rank = written first. Only the float
 * dtypes are ever written by this package, but the ranks follow the reference `Dtype` enum order.
 */
export const WRITE_ORDER_RANK: Record<FloatDtype, number> = { F16: 0, BF16: 1, F32: 2 };

// ---------------------------------------------------------------------------------------------------
// F16 (IEEE 754 binary16)

/** Decode table: the float32 bit pattern of every float16 bit pattern (exact; NaN payloads kept). */
let f16Table: Uint32Array | undefined;

export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // inf / NaN, payload kept
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0; // 112 = 127 − 15
  if (mantissa === 0) return sign >>> 0; // ±0
  // Subnormal float16 = mantissa · 2^−24: normalise it, every float16 subnormal is a float32 normal.
  let e = 113; // biased float32 exponent of 2^−14, the float16 subnormal scale
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

function f16DecodeTable(): Uint32Array {
  if (f16Table === undefined) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16BitsToFloat32Bits(h);
  }
  return f16Table;
}

/**
 * float32 bits → float16 bits, rounding to nearest with ties to even (what torch's `.half()` and
 * numpy's `astype(float16)` do), including rounding into and out of the subnormal range and overflow
 * to ±inf. NaN keeps its sign and the top 10 payload bits; if those are all zero the quiet bit is set
 * so that it stays a NaN (torch would write the canonical 0x7E00 instead: both are NaN, ours keeps
 * float16-born NaNs bit-exact).
 */
export function float32BitsToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) {
    if (mantissa === 0) return sign | 0x7c00;
    const payload = mantissa >>> 13;
    return sign | 0x7c00 | (payload === 0 ? 0x200 : payload);
  }
  const e = exponent - 112; // float16 biased exponent
  if (e >= 31) return sign | 0x7c00; // beyond 65520 after rounding: overflow to inf
  if (e <= 0) {
    // Result is subnormal (or zero): value = significand · 2^(e − 14 − 10) in units of 2^−24.
    if (e < -10) return sign; // below 2^−25: rounds to zero (2^−25 itself ties to even = 0, handled below)
    const significand = mantissa | 0x800000;
    const shift = 14 - e; // 14..24
    const q = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    // A carry into 0x400 correctly produces the smallest normal.
    return sign | (remainder > half || (remainder === half && (q & 1) === 1) ? q + 1 : q);
  }
  const q = (e << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa increments the exponent, up to 0x7c00 = inf: exactly right.
  return sign | (remainder > 0x1000 || (remainder === 0x1000 && (q & 1) === 1) ? q + 1 : q);
}

// ---------------------------------------------------------------------------------------------------
// BF16 (the top half of a float32)

export function bfloat16BitsToFloat32Bits(b: number): number {
  return (b << 16) >>> 0;
}

/**
 * float32 bits → bfloat16 bits, rounding to nearest with ties to even (as torch's `.bfloat16()`).
 * NaN is truncated, with the quiet bit set when truncation would leave no payload, so that it stays a
 * NaN (torch writes the canonical 0x7FC0 instead; ours keeps bfloat16-born NaNs bit-exact).
 */
export function float32BitsToBfloat16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) {
    const truncated = x >>> 16;
    return (truncated & 0x7f) === 0 ? truncated | 0x40 : truncated;
  }
  // Overflow rounds to inf through the carry, as it should.
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------------------------------
// Whole arrays

/** Decodes `src` (F16 or BF16 bit patterns) into `dst` (same length). */
export function decodeHalfInto(dtype: "F16" | "BF16", src: Uint16Array, dst: Float32Array): void {
  if (src.length !== dst.length) {
    throw new Error(`decodeHalfInto: source has ${src.length} elements, destination ${dst.length}`);
  }
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  if (dtype === "F16") {
    const table = f16DecodeTable();
    for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  } else {
    for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
  }
}

/** Encodes `src[start, start + dst.length)` into `dst` as F16 or BF16 bit patterns. */
export function encodeHalfInto(dtype: "F16" | "BF16", src: Float32Array, start: number, dst: Uint16Array): void {
  if (start < 0 || start + dst.length > src.length) {
    throw new Error(`encodeHalfInto: range [${start}, ${start + dst.length}) outside a source of ${src.length}`);
  }
  const bits = new Uint32Array(src.buffer, src.byteOffset + start * 4, dst.length);
  if (dtype === "F16") {
    for (let i = 0; i < dst.length; i++) dst[i] = float32BitsToFloat16Bits(bits[i]!);
  } else {
    for (let i = 0; i < dst.length; i++) dst[i] = float32BitsToBfloat16Bits(bits[i]!);
  }
}

/** Convenience for small arrays: a Float32Array of the decoded values. */
export function decodeHalf(dtype: "F16" | "BF16", src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  decodeHalfInto(dtype, src, out);
  return out;
}

/** Convenience for small arrays: the F16 or BF16 bit patterns of `src`. */
export function encodeHalf(dtype: "F16" | "BF16", src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  encodeHalfInto(dtype, src, 0, out);
  return out;
}
