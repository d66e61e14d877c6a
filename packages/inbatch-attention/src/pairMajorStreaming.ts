import * as tf from "@tensorflow/tfjs";
import { accumulate, addInto } from "./accumulate.js";
import { fillPairMultipliers } from "./dropoutMask.js";
import { type PairInputs, pairBackward, pairForward } from "./pairBlock.js";
import { type PairGroup, pairGroups } from "./pairGroups.js";
import { type CrossAttentionProblem, MASKED_SCORE } from "./problem.js";
import { headsFromRows, queryRows, rowsFromHeads } from "./queryRows.js";

/**
 * `streaming` by pair: the pairs (i, j) with W_ij ≠ 0 — they alone add to the output and to the
 * gradients of q, k and v — in groups of at most B pairs, each group one batched step with scores
 * [P, Hkv, rep·L, L], P ≤ B: for a one-hot W (τ = 1e-4) one step per layer instead of one per key
 * chunk. Its own gradient (tf.customGrad) recomputes a group's probabilities in the backward pass
 * instead of keeping them, so memory stays O(B·H·L²). dL/dW is computed only where W_ij ≠ 0 (0
 * elsewhere): exact for W from a softmax (see `weightGradient`).
 *
 * q [B, H, L, D], k/v [B, Hkv, L, D], w [B, B] → [B, H, L, D]; inside, the queries are rows
 * [B, Hkv, rep·L, D] times 1/√D (`queryRows`).
 */
export function pairMajorStreaming(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  w: tf.Tensor,
  norm: tf.Tensor | null,
  p: CrossAttentionProblem,
): tf.Tensor {
  const inputs = norm !== null ? [q, k, v, w, norm] : [q, k, v, w];
  return streamingCore(p)(...inputs);
}

/** [B, P] with a 1 at (index[m], m): sums per-pair rows into the chunks they belong to (exact). */
function oneHot(b: number, index: Int32Array): tf.Tensor2D {
  const m = new Float32Array(b * index.length);
  index.forEach((row, n) => {
    m[row * index.length + n] = 1;
  });
  return tf.tensor2d(m, [b, index.length]);
}

/** x [P, …] per pair → [B, …] summed into chunks `index`. */
function scatter(b: number, index: Int32Array, x: tf.Tensor): tf.Tensor {
  return tf.reshape(tf.matMul(oneHot(b, index), tf.reshape(x, [index.length, -1])), [b, ...x.shape.slice(1)]);
}

/** Rows of the group's query chunks from a [B, …] tensor. */
function rowsOf(g: PairGroup, x: tf.Tensor): tf.Tensor {
  return g.everyRowOnce ? x : tf.gather(x, tf.tensor1d(g.i, "int32"));
}

/** [P] per-pair values → [B, B] at (i, j). */
function scatterPairs(b: number, g: PairGroup, x: tf.Tensor): tf.Tensor {
  const flat = Int32Array.from(g.i, (i, m) => i * b + (g.j[m] as number));
  return tf.reshape(tf.matMul(oneHot(b * b, flat), tf.reshape(x, [-1, 1])), [b, b]);
}

interface Saved {
  /** [B, Hkv, rep·L, D] */
  qs: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
  norm: tf.Tensor | undefined;
}

/** A group's batched inputs: queries of chunks i, keys and values of chunks j, per-pair bias and dropout. */
function groupInputs(p: CrossAttentionProblem, s: Saved, g: PairGroup): PairInputs & { w: tf.Tensor } {
  const { h, hkv, rep, l } = p;
  const n = g.i.length;
  const keys = tf.tensor1d(g.j, "int32");
  let bias: tf.Tensor | null = null;
  if (p.keyMask !== null) {
    const mask = p.keyMask;
    const values = new Float32Array(n * l);
    g.j.forEach((j, m) => {
      for (let c = 0; c < l; c++) values[m * l + c] = mask[j * l + c] === 1 ? 0 : MASKED_SCORE;
    });
    if (values.some((x) => x !== 0)) bias = tf.tensor4d(values, [n, 1, 1, l]);
  }
  let multiplier: tf.Tensor | null = null;
  if (p.dropout !== null) {
    const dropout = p.dropout;
    const values = new Float32Array(n * h * l * l);
    // [P, Hkv, rep·L, L] has the memory order of [P, H, L, L]: pair m is block m.
    g.i.forEach((i, m) => {
      fillPairMultipliers(values, dropout, i, g.j[m] as number, h, l, (head, row) => ((m * h + head) * l + row) * l);
    });
    multiplier = tf.tensor4d(values, [n, hkv, rep * l, l]);
  }
  return {
    qs: rowsOf(g, s.qs),
    k: tf.gather(s.k, keys),
    v: tf.gather(s.v, keys),
    norm: s.norm === undefined ? null : tf.gather(s.norm, keys),
    bias,
    multiplier,
    w: tf.tensor4d(g.w, [n, 1, 1, 1]),
  };
}

function streamingCore(p: CrossAttentionProblem) {
  const { b, hkv, rep, l, d } = p;
  return tf.customGrad((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [q, k, v, w, norm] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    save(args as tf.Tensor[]);
    const weights = w.dataSync();
    const active = pairGroups(weights, b, (x) => x !== 0);
    const s: Saved = { qs: queryRows(q, p, false), k, v, norm };
    let out: tf.Tensor | null = null;
    for (const g of active) {
      out = accumulate(out, () => {
        const x = groupInputs(p, s, g);
        const term = tf.mul(pairForward(x).a, x.w); // [P, Hkv, rep·L, D]
        return g.everyRowOnce ? term : scatter(b, g.i, term);
      });
    }
    return {
      value: headsFromRows(out ?? tf.zeros([b, hkv, rep * l, d]), p, false),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [q2, k2, v2, , norm2] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const qs2 = queryRows(q2, p, false);
        const s2: Saved = { qs: qs2, k: k2, v: v2, norm: norm2 };
        const gy = rowsFromHeads(dy as tf.Tensor, p, false); // [B, Hkv, rep·L, D]
        // [B, Hkv, D, rep·L]: transposed once for every group (transposed operands are slow on wasm).
        const gyT = tf.transpose(gy, [0, 1, 3, 2]);
        const qsT = tf.transpose(qs2, [0, 1, 3, 2]);
        let dqs: tf.Tensor | null = null;
        let dk: tf.Tensor | null = null;
        let dv: tf.Tensor | null = null;
        let dnorm: tf.Tensor | null = null;
        let dw: tf.Tensor | null = null;
        for (const g of active) {
          const [gq, gk, gv, gw, gn] = tf.tidy((): tf.Tensor[] => {
            const x = groupInputs(p, s2, g);
            const r = pairBackward(x, pairForward(x), {
              gy: rowsOf(g, gy),
              gyT: rowsOf(g, gyT),
              qsT: rowsOf(g, qsT),
              w: x.w,
            });
            const grads = [
              g.everyRowOnce ? r.dqs : scatter(b, g.i, r.dqs),
              scatter(b, g.j, tf.transpose(r.dkT, [0, 1, 3, 2])),
              scatter(b, g.j, tf.transpose(r.dvT, [0, 1, 3, 2])),
              scatterPairs(b, g, tf.sum(r.t, [1, 2, 3])),
            ];
            if (r.dnormT !== null) grads.push(scatter(b, g.j, tf.reshape(r.dnormT, [g.j.length, hkv, l, 1])));
            return grads;
          }) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
          dqs = addInto(dqs, gq);
          dk = addInto(dk, gk);
          dv = addInto(dv, gv);
          dw = addInto(dw, gw);
          if (gn !== undefined) dnorm = addInto(dnorm, gn);
        }
        const dq = dqs === null ? tf.zerosLike(q2) : headsFromRows(dqs, p, false, 1 / Math.sqrt(d));
        tf.dispose([gy, gyT, qsT, qs2, dqs ?? []]);
        const grads = [dq, dk ?? tf.zerosLike(k2), dv ?? tf.zerosLike(v2), dw ?? tf.zeros([b, b])];
        if (norm2 !== undefined) grads.push(dnorm ?? tf.zerosLike(norm2));
        return grads;
      },
    };
  }) as (...inputs: tf.Tensor[]) => tf.Tensor;
}
