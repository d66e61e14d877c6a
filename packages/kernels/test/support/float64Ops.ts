/**
 * Plain-TypeScript float64 references for the ops in src/ops, written from the definitions (the
 * papers and Hugging Face's PyTorch code), not from this package's implementation. Inputs are
 * float32 or float64 arrays in row-major order; outputs are Float64Array. The spec files compare
 * the tfjs ops with these and differentiate these by central finite differences.
 */

import { size } from "./reference.js";

type Values = ArrayLike<number>;

const at = (a: Values, i: number): number => a[i] as number;

/** y = x / sqrt(mean(x², last axis) + eps) · weight, x: [..., D], weight: [D]. */
export function float64RmsNorm(x: Values, xShape: readonly number[], weight: Values, eps: number): Float64Array {
  const d = xShape[xShape.length - 1]!;
  const rows = size(xShape) / d;
  const out = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += at(x, r * d + j) ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[r * d + j] = at(x, r * d + j) * inv * at(weight, j);
  }
  return out;
}

/** Llama-3 `rope_scaling` in Hugging Face's config.json spelling. */
export interface HfLlama3RopeScaling {
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

/**
 * Hugging Face's `_compute_default_rope_parameters` followed by `_compute_llama3_parameters`
 * (transformers/modeling_rope_utils.py), transcribed step by step — including its
 * `torch.where` structure — in float64.
 */
export function float64RopeInverseFrequencies(
  headDim: number,
  theta: number,
  scaling?: HfLlama3RopeScaling,
): Float64Array {
  const half = headDim / 2;
  // inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2) / dim))
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1.0 / theta ** ((2 * i) / headDim);
  if (!scaling) return invFreq;
  const factor = scaling.factor;
  const lowFreqFactor = scaling.low_freq_factor;
  const highFreqFactor = scaling.high_freq_factor;
  const oldContextLen = scaling.original_max_position_embeddings;
  const lowFreqWavelen = oldContextLen / lowFreqFactor;
  const highFreqWavelen = oldContextLen / highFreqFactor;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const f = at(invFreq, i);
    const wavelen = (2 * Math.PI) / f;
    // inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    let llama = wavelen > lowFreqWavelen ? f / factor : f;
    // smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    const smooth = (oldContextLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    // smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    const smoothed = ((1 - smooth) * llama) / factor + smooth * llama;
    // is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    if (isMedium) llama = smoothed;
    out[i] = llama;
  }
  return out;
}

/**
 * Rotary embedding in Hugging Face's convention: out = x·cos + rotate_half(x)·sin with
 * rotate_half(x) = cat(−x[D/2:], x[:D/2]), cos/sin = cat(freqs, freqs), freqs = (pos)·inv_freq.
 * x: [B, H, L, D]; position of index l is l + offset. Angles are computed in float64.
 */
export function float64Rope(x: Values, xShape: readonly number[], invFreq: Values, offset = 0): Float64Array {
  const [b, h, l, d] = xShape as [number, number, number, number];
  const half = d / 2;
  const out = new Float64Array(b * h * l * d);
  for (let bh = 0; bh < b * h; bh++) {
    for (let p = 0; p < l; p++) {
      const base = (bh * l + p) * d;
      for (let j = 0; j < d; j++) {
        const freq = at(invFreq, j % half);
        const angle = (p + offset) * freq;
        const rotated = j < half ? -at(x, base + j + half) : at(x, base + j - half);
        out[base + j] = at(x, base + j) * Math.cos(angle) + rotated * Math.sin(angle);
      }
    }
  }
  return out;
}

/** (silu(x·Wg) ⊙ (x·Wu)) · Wd with silu(z) = z / (1 + e^−z). x: [..., d], Wg, Wu: [d, f], Wd: [f, d]. */
export function float64Swiglu(
  x: Values,
  xShape: readonly number[],
  wGate: Values,
  wUp: Values,
  wDown: Values,
  f: number,
): Float64Array {
  const d = xShape[xShape.length - 1]!;
  const rows = size(xShape) / d;
  const out = new Float64Array(rows * d);
  const hidden = new Float64Array(f);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < f; k++) {
      let g = 0;
      let u = 0;
      for (let j = 0; j < d; j++) {
        const xv = at(x, r * d + j);
        g += xv * at(wGate, j * f + k);
        u += xv * at(wUp, j * f + k);
      }
      hidden[k] = (g / (1 + Math.exp(-g))) * u;
    }
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < f; k++) s += at(hidden, k) * at(wDown, k * d + j);
      out[r * d + j] = s;
    }
  }
  return out;
}

export interface Float64AttentionShape {
  b: number;
  h: number;
  hkv: number;
  l: number;
  d: number;
}

/**
 * Causal grouped-query attention as in Hugging Face's LLaMA (`repeat_kv`, i.e. query head h reads
 * kv head ⌊h / (H/Hkv)⌋). Masked keys (future, or padding where mask[b, j] = 0) are left out of
 * the softmax entirely. A query row with no visible key yields NaN (the reference has no answer).
 * q: [B, H, L, D]; k, v: [B, Hkv, L, D]; mask: [B, L].
 */
export function float64CausalAttention(
  q: Values,
  k: Values,
  v: Values,
  s: Float64AttentionShape,
  options: { mask?: Values; scale?: number } = {},
): Float64Array {
  const { b, h, hkv, l, d } = s;
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const rep = h / hkv;
  const out = new Float64Array(b * h * l * d);
  const scores = new Float64Array(l);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const kvh = Math.floor(hi / rep);
      const qBase = (bi * h + hi) * l * d;
      const kvBase = (bi * hkv + kvh) * l * d;
      for (let i = 0; i < l; i++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < l; j++) {
          const visible = j <= i && (options.mask === undefined || at(options.mask, bi * l + j) !== 0);
          if (!visible) {
            scores[j] = Number.NEGATIVE_INFINITY;
            continue;
          }
          let dot = 0;
          for (let c = 0; c < d; c++) dot += at(q, qBase + i * d + c) * at(k, kvBase + j * d + c);
          scores[j] = dot * scale;
          max = Math.max(max, dot * scale);
        }
        let denom = 0;
        for (let j = 0; j < l; j++) {
          const e = at(scores, j) === Number.NEGATIVE_INFINITY ? 0 : Math.exp(at(scores, j) - max);
          scores[j] = e;
          denom += e;
        }
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j < l; j++) acc += at(scores, j) * at(v, kvBase + j * d + c);
          out[qBase + i * d + c] = denom === 0 ? Number.NaN : acc / denom;
        }
      }
    }
  }
  return out;
}

/**
 * Mean over labels ≠ −100 of logsumexp(logits_i) − logits_i[label_i] (PyTorch's
 * `F.cross_entropy(..., ignore_index=-100)`), with log-sum-exp taken about each row's maximum.
 * logits: [N, V] flattened; labels: [N]. Returns 0 when every label is ignored.
 */
export function float64TokenCrossEntropy(logits: Values, labels: Values, v: number): number {
  const n = labels.length;
  let total = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const y = at(labels, i);
    if (y === -100) continue;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < v; c++) max = Math.max(max, at(logits, i * v + c));
    let sum = 0;
    for (let c = 0; c < v; c++) sum += Math.exp(at(logits, i * v + c) - max);
    total += max + Math.log(sum) - at(logits, i * v + y);
    count++;
  }
  return count === 0 ? 0 : total / count;
}

/** y = x · w (+ bias). x: [..., in]; w: [in, out]; bias: [out]. */
export function float64Linear(
  x: Values,
  xShape: readonly number[],
  w: Values,
  out: number,
  bias?: Values,
): Float64Array {
  const din = xShape[xShape.length - 1]!;
  const rows = size(xShape) / din;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = bias === undefined ? 0 : at(bias, o);
      for (let j = 0; j < din; j++) s += at(x, r * din + j) * at(w, j * out + o);
      y[r * out + o] = s;
    }
  }
  return y;
}

/** Embedding lookup: out[i, :] = table[ids[i], :]. table: [V, d]; ids: [N] (any shape, flattened). */
export function float64Gather(table: Values, d: number, ids: Values): Float64Array {
  const out = new Float64Array(ids.length * d);
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < d; c++) out[i * d + c] = at(table, at(ids, i) * d + c);
  }
  return out;
}

/**
 * out[s, :] = Σ_{i: ids[i] = s} x[i, :] for s < numSegments; ids outside [0, numSegments) are
 * dropped (TensorFlow's UnsortedSegmentSum). x: [N, inner] flattened; ids: [N].
 */
export function float64UnsortedSegmentSum(x: Values, inner: number, ids: Values, numSegments: number): Float64Array {
  const out = new Float64Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const s = at(ids, i);
    if (s < 0 || s >= numSegments) continue;
    for (let c = 0; c < inner; c++) out[s * inner + c] = at(out, s * inner + c) + at(x, i * inner + c);
  }
  return out;
}
