import * as tf from "@tensorflow/tfjs";
import { requireRank, requireShape, requireTensor } from "./checkShapes.js";

/** Llama-3 style `rope_scaling` (`rope_type: "llama3"`), as in a Hugging Face config.json. */
export interface Llama3RopeScaling {
  ropeType: "llama3";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface RopeOptions {
  /** Per-head dimension D (even). */
  headDim: number;
  /** Number of positions L the tables cover (positions 0..L-1 + offset). */
  seqLen: number;
  /** rope_theta. Default 10000. */
  theta?: number;
  /** First position. Default 0. */
  offset?: number;
  scaling?: Llama3RopeScaling;
}

/**
 * Inverse frequencies θ^(-2i/D), i < D/2, in float64, with Llama-3 scaling applied when given:
 * wavelengths longer than original/lowFreqFactor are divided by `factor`, shorter than
 * original/highFreqFactor are kept, and the band between is interpolated smoothly.
 */
export function ropeInverseFrequencies(headDim: number, theta = 10000, scaling?: Llama3RopeScaling): Float64Array {
  const op = "ropeInverseFrequencies";
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new Error(`${op}: headDim must be a positive even integer, got ${headDim}`);
  }
  if (!(theta > 0)) throw new Error(`${op}: theta must be positive, got ${theta}`);
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (!scaling) return inv;
  const { ropeType, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
  if (ropeType !== "llama3") throw new Error(`${op}: scaling.ropeType must be "llama3", got "${ropeType}"`);
  for (const [name, v] of Object.entries({
    factor,
    lowFreqFactor,
    highFreqFactor,
    originalMaxPositionEmbeddings: original,
  })) {
    if (!(typeof v === "number" && v > 0))
      throw new Error(`${op}: scaling.${name} must be a positive number, got ${v}`);
  }
  if (!(highFreqFactor > lowFreqFactor)) {
    throw new Error(`${op}: scaling.highFreqFactor (${highFreqFactor}) must exceed lowFreqFactor (${lowFreqFactor})`);
  }
  const lowFreqWavelen = original / lowFreqFactor;
  const highFreqWavelen = original / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const f = inv[i] as number;
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) continue;
    if (wavelen > lowFreqWavelen) {
      inv[i] = f / factor;
      continue;
    }
    const smooth = (original / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    inv[i] = (1 - smooth) * (f / factor) + smooth * f;
  }
  return inv;
}

/**
 * cos and sin tables [L, D] in the Hugging Face layout (the D/2 frequencies repeated twice),
 * computed in float64 and rounded once to float32.
 */
export function ropeTables(options: RopeOptions): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const { headDim, seqLen, theta = 10000, offset = 0, scaling } = options;
  if (!Number.isInteger(seqLen) || seqLen <= 0)
    throw new Error(`ropeTables: seqLen must be a positive integer, got ${seqLen}`);
  if (!Number.isInteger(offset) || offset < 0)
    throw new Error(`ropeTables: offset must be a non-negative integer, got ${offset}`);
  const inv = ropeInverseFrequencies(headDim, theta, scaling);
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * headDim);
  const sin = new Float32Array(seqLen * headDim);
  for (let p = 0; p < seqLen; p++) {
    for (let i = 0; i < half; i++) {
      const angle = (p + offset) * (inv[i] as number);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + i] = c;
      cos[p * headDim + i + half] = c;
      sin[p * headDim + i] = s;
      sin[p * headDim + i + half] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [seqLen, headDim]), sin: tf.tensor2d(sin, [seqLen, headDim]) };
}

/**
 * Rotary position embedding: x·cos + rotate_half(x)·sin, rotate_half(x) = [-x₂, x₁] on the two
 * halves of the head dimension (Hugging Face's convention for LLaMA/Qwen2 checkpoints).
 * x: [B, H, L, D]; cos, sin: [L, D] from `ropeTables`.
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
  const op = "applyRope";
  requireTensor(op, "x", x);
  requireTensor(op, "cos", cos);
  requireTensor(op, "sin", sin);
  requireRank(op, "x", x, 4, "[B, H, L, D]");
  const [, , l, d] = x.shape as [number, number, number, number];
  if (d % 2 !== 0) throw new Error(`${op}: the head dimension of x [${x.shape.join(", ")}] must be even`);
  requireShape(op, "cos", cos, [l, d], `([L, D] for x [${x.shape.join(", ")}])`);
  requireShape(op, "sin", sin, [l, d], `([L, D] for x [${x.shape.join(", ")}])`);
  // rotate(x) = [-x₂, x₁] = x·R for a signed permutation R [D, D]; its transpose is x·Rᵀ = [x₂, -x₁].
  // One product over all B·H·L rows: on wasm that is a single XNNPACK call where split, negate and
  // concat were five kernels and two copies of x (a quarter of the non-matmul time of a Revela step).
  // Exact: each output is ±1 times one input plus zeros. The op is linear in x, so its gradient
  // dy·cos + rotateᵀ(dy·sin) needs nothing saved from the forward pass.
  const rotate = (t: tf.Tensor, sign: 1 | -1) =>
    tf.tidy(() => {
      const r = rotationMatrix(d, sign);
      return tf.reshape(tf.matMul(tf.reshape(t, [-1, d]), r), t.shape);
    });
  // The tables are saved (not closed over): a caller's tables, e.g. gathered per row, may be
  // disposed before backward runs.
  const rope = tf.customGrad(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([cos, sin]);
    return {
      value: tf.add(tf.mul(xIn, cos), tf.mul(rotate(xIn, 1), sin)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [c, s] = saved as [tf.Tensor, tf.Tensor];
        return tf.add(tf.mul(dy, c), rotate(tf.mul(dy, s), -1));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return rope(x) as tf.Tensor4D;
}

/** R [D, D] with x·R = [-x₂, x₁] (sign 1) or its transpose, x·Rᵀ = [x₂, -x₁] (sign -1). */
function rotationMatrix(d: number, sign: 1 | -1): tf.Tensor2D {
  const half = d / 2;
  const r = new Float32Array(d * d);
  for (let i = 0; i < half; i++) {
    // Column i takes -x[i + half], column i + half takes x[i] (sign 1); the transpose swaps them.
    r[(i + half) * d + i] = -sign;
    r[i * d + i + half] = sign;
  }
  return tf.tensor2d(r, [d, d]);
}
