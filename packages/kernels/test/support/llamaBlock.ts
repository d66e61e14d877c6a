import * as tf from "@tensorflow/tfjs";
import {
  applyRope,
  causalSelfAttention,
  linear,
  rmsNorm,
  ropeTables,
  swigluMlp,
  tokenCrossEntropy,
} from "../../src/index.js";

/** One LLaMA decoder block built from this package's ops; shared by the parity test and the benchmark. */
export interface BlockConfig {
  d: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  seq: number;
  batch: number;
  vocab: number;
}

export const REFERENCE_BLOCK: BlockConfig = {
  d: 256,
  heads: 8,
  kvHeads: 4,
  ffn: 688,
  seq: 128,
  batch: 16,
  vocab: 8192,
};

export interface BlockWeights {
  embed: tf.Variable; // [V, d]
  norm1: tf.Variable;
  wq: tf.Variable;
  wk: tf.Variable;
  wv: tf.Variable;
  wo: tf.Variable;
  norm2: tf.Variable;
  wGate: tf.Variable;
  wUp: tf.Variable;
  wDown: tf.Variable;
  head: tf.Variable; // [d, V]
}

/** Deterministic weights from a tiny LCG so every backend sees the same numbers. */
export function blockWeightValues(
  cfg: BlockConfig,
  seed = 1,
): Record<keyof BlockWeights, { shape: number[]; values: Float32Array }> {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const make = (shape: number[], scale: number, base = 0) => {
    const n = shape.reduce((p, s) => p * s, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = base + scale * next();
    return { shape, values };
  };
  const hd = cfg.d / cfg.heads;
  const s = 1 / Math.sqrt(cfg.d);
  return {
    embed: make([cfg.vocab, cfg.d], 1),
    norm1: make([cfg.d], 0.2, 1),
    wq: make([cfg.d, cfg.d], 2 * s),
    wk: make([cfg.d, cfg.kvHeads * hd], 2 * s),
    wv: make([cfg.d, cfg.kvHeads * hd], 2 * s),
    wo: make([cfg.d, cfg.d], 2 * s),
    norm2: make([cfg.d], 0.2, 1),
    wGate: make([cfg.d, cfg.ffn], 2 * s),
    wUp: make([cfg.d, cfg.ffn], 2 * s),
    wDown: make([cfg.ffn, cfg.d], 2 / Math.sqrt(cfg.ffn)),
    head: make([cfg.d, cfg.vocab], 2 * s),
  };
}

export function makeBlockWeights(cfg: BlockConfig, seed = 1): BlockWeights {
  const values = blockWeightValues(cfg, seed);
  const out: Partial<BlockWeights> = {};
  for (const [name, { shape, values: v }] of Object.entries(values)) {
    out[name as keyof BlockWeights] = tf.variable(tf.tensor(v, shape), true, `block/${name}/${Math.random()}`);
  }
  return out as BlockWeights;
}

export function blockInputs(cfg: BlockConfig, seed = 7): { ids: Int32Array; mask: Float32Array; labels: Int32Array } {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const n = cfg.batch * cfg.seq;
  const ids = new Int32Array(n);
  const mask = new Float32Array(n);
  const labels = new Int32Array(n);
  for (let b = 0; b < cfg.batch; b++) {
    const len = Math.max(2, Math.floor(cfg.seq * (0.5 + 0.5 * next())));
    for (let t = 0; t < cfg.seq; t++) {
      const i = b * cfg.seq + t;
      const real = t < len;
      ids[i] = real ? 1 + Math.floor(next() * (cfg.vocab - 1)) : 0;
      mask[i] = real ? 1 : 0;
    }
    for (let t = 0; t < cfg.seq; t++) {
      const i = b * cfg.seq + t;
      labels[i] = t + 1 < cfg.seq && mask[i + 1] === 1 ? (ids[i + 1] as number) : -100;
    }
  }
  return { ids, mask, labels };
}

/** `blockInputs` as tensors: ids and labels int32 [B, L], mask float32 [B, L]. */
export function blockInputTensors(
  cfg: BlockConfig,
  seed = 7,
): { ids: tf.Tensor2D; mask: tf.Tensor2D; labels: tf.Tensor2D } {
  const inp = blockInputs(cfg, seed);
  return {
    ids: tf.tensor2d(inp.ids, [cfg.batch, cfg.seq], "int32"),
    mask: tf.tensor2d(inp.mask, [cfg.batch, cfg.seq]),
    labels: tf.tensor2d(inp.labels, [cfg.batch, cfg.seq], "int32"),
  };
}

/** One pre-norm LLaMA block: x + attn(norm(x)), then + SwiGLU(norm(·)). x: [B, L, d] → [B, L, d]. */
export function llamaBlock(
  cfg: BlockConfig,
  w: BlockWeights,
  x: tf.Tensor,
  mask: tf.Tensor,
  rope: { cos: tf.Tensor; sin: tf.Tensor },
): tf.Tensor {
  const { batch: b, seq: l, d, heads: h, kvHeads: hkv } = cfg;
  const hd = d / h;
  const n1 = rmsNorm(x, w.norm1, 1e-6);
  const split = (t: tf.Tensor, heads: number) => tf.transpose(tf.reshape(t, [b, l, heads, hd]), [0, 2, 1, 3]);
  const q = applyRope(split(linear(n1, w.wq), h), rope.cos, rope.sin);
  const k = applyRope(split(linear(n1, w.wk), hkv), rope.cos, rope.sin);
  const v = split(linear(n1, w.wv), hkv);
  const att = causalSelfAttention(q, k, v, { keyPaddingMask: mask });
  const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [b, l, d]);
  const x2 = tf.add(x, linear(merged, w.wo));
  return tf.add(x2, swigluMlp(rmsNorm(x2, w.norm2, 1e-6), w.wGate, w.wUp, w.wDown));
}

/** Embedding → block → LM head → next-token loss: everything a decoder's training step uses. */
export function blockLmLoss(
  cfg: BlockConfig,
  w: BlockWeights,
  ids: tf.Tensor,
  mask: tf.Tensor,
  labels: tf.Tensor,
  rope: { cos: tf.Tensor; sin: tf.Tensor },
): tf.Scalar {
  const x = tf.reshape(tf.gather(w.embed, tf.reshape(ids, [-1])), [cfg.batch, cfg.seq, cfg.d]);
  return tokenCrossEntropy(linear(llamaBlock(cfg, w, x, mask, rope), w.head), labels);
}

/** Loss and gradients of every weight; all intermediates are released. */
export function blockStep(
  cfg: BlockConfig,
  w: BlockWeights,
  ids: tf.Tensor,
  mask: tf.Tensor,
  labels: tf.Tensor,
  rope: { cos: tf.Tensor; sin: tf.Tensor },
) {
  return tf.tidy(() => tf.variableGrads(() => blockLmLoss(cfg, w, ids, mask, labels, rope)));
}

export function makeRope(cfg: BlockConfig) {
  return ropeTables({ headDim: cfg.d / cfg.heads, seqLen: cfg.seq, theta: 10000 });
}
