import * as tf from "@tensorflow/tfjs";
import { accumulate, addInto } from "./accumulate.js";
import { fillPairMultipliers } from "./dropoutMask.js";
import { type PairInputs, pairBackward, pairForward } from "./pairBlock.js";
import { type CrossAttentionProblem, keyBias } from "./problem.js";
import { headsFromRows, queryRows, rowsFromHeads } from "./queryRows.js";

/**
 * `streaming` by key chunk: loops over key chunks j. In step j the query chunks attend to chunk j
 * together: their queries are stacked into the rows, [Hkv, n·rep·L, D], so a step's scores are at
 * most [Hkv, B·rep·L, L] = O(B·H·L²), few large products when many chunks read chunk j (a W with
 * few zeros). Its own gradient (tf.customGrad) recomputes each step's probabilities in the backward
 * pass instead of keeping them, so memory stays O(B·H·L²) through forward and backward.
 *
 * Pairs with W_ij exactly 0 are skipped wherever that is exact: they add nothing to the output nor
 * to the gradients of q, k and v, so the forward pass and the expensive backward products run only
 * on the query chunks i with W_ij ≠ 0. dL/dW_ij = Σ gy ⊙ A_ij needs A_ij of every pair: with
 * `allPairsWeightGradient` a cheaper "forward-only" pass over all rows provides it; without, dL/dW
 * is computed only where W_ij ≠ 0 (0 elsewhere).
 *
 * q [B, H, L, D], k/v [B, Hkv, L, D], w [B, B] → [B, H, L, D]; inside, the queries are rows
 * [Hkv, B, rep·L, D] times 1/√D (`queryRows`): a step stacks the rows of its query chunks per kv head.
 */
export function keyMajorStreaming(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  w: tf.Tensor,
  norm: tf.Tensor | null,
  p: CrossAttentionProblem,
  allPairsWeightGradient: boolean,
): tf.Tensor {
  const inputs = norm !== null ? [q, k, v, w, norm] : [q, k, v, w];
  return streamingCore(p, allPairsWeightGradient)(...inputs);
}

/** Query chunks i with W_ij ≠ 0, for each key chunk j. */
function activeChunks(w: Float32Array | Int32Array | Uint8Array, b: number): Int32Array[] {
  return Array.from({ length: b }, (_, j) =>
    Int32Array.from(Array.from({ length: b }, (_, i) => i).filter((i) => w[i * b + j] !== 0)),
  );
}

/** Rows of the chunks in `chunks` from a [Hkv, B, rows, X] tensor, as [Hkv, n·rows, X]; null = all. */
function pickRows(x: tf.Tensor, chunks: Int32Array | null): tf.Tensor {
  const [hkv, b, rows, last] = x.shape as [number, number, number, number];
  if (chunks === null) return tf.reshape(x, [hkv, b * rows, last]);
  return tf.reshape(tf.gather(x, tf.tensor1d(chunks, "int32"), 1), [hkv, chunks.length * rows, last]);
}

/** y [Hkv, n, X] (rows of `chunks`) placed in a [Hkv, B, X] tensor, zeros elsewhere (exact). */
function scatterChunks(b: number, chunks: Int32Array | null, y: tf.Tensor): tf.Tensor {
  if (chunks === null) return y;
  const [hkv, n, x] = y.shape as [number, number, number];
  // Chunk i reads row m of y when chunks[m] = i, else the zero row appended at n.
  const from = new Int32Array(b).fill(n);
  chunks.forEach((i, m) => {
    from[i] = m;
  });
  return tf.gather(tf.concat([y, tf.zeros([hkv, 1, x])], 1), tf.tensor1d(from, "int32"), 1);
}

/** x[j] of a [B, …] tensor, without the leading axis. */
function chunk(x: tf.Tensor, j: number): tf.Tensor {
  const begin = x.shape.map((_, a) => (a === 0 ? j : 0));
  const size = x.shape.map((s, a) => (a === 0 ? 1 : s));
  return tf.reshape(tf.slice(x, begin, size), x.shape.slice(1));
}

interface Saved {
  /** [Hkv, B, rep·L, D] */
  qs: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
  norm: tf.Tensor | undefined;
  /** W's values, [B·B] */
  w: Float32Array;
}

/**
 * Step j restricted to query chunks `chunks` (null = all B): chunk j's keys and values [Hkv, L, D],
 * its key bias, W_ij for every row and the dropout multipliers of pairs (i, j).
 */
function stepInputs(
  p: CrossAttentionProblem,
  s: Saved,
  j: number,
  chunks: Int32Array | null,
): PairInputs & { w: tf.Tensor } {
  const { b, h, hkv, rep, l } = p;
  const list = chunks ?? Int32Array.from({ length: b }, (_, i) => i);
  const n = list.length;
  const rows = n * rep * l;
  const bias = keyBias(p, j);
  const wRows = new Float32Array(hkv * rows);
  for (let g = 0; g < hkv; g++) {
    list.forEach((i, m) => {
      wRows.fill(s.w[i * b + j] as number, g * rows + m * rep * l, g * rows + (m + 1) * rep * l);
    });
  }
  let multiplier: tf.Tensor | null = null;
  if (p.dropout !== null) {
    const dropout = p.dropout;
    const values = new Float32Array(hkv * rows * l);
    list.forEach((i, m) => {
      // Head g·rep + r of pair (i, j) is at rows (m·rep + r)·L … of kv head g.
      fillPairMultipliers(values, dropout, i, j, h, l, (head, row) => {
        const g = Math.floor(head / rep);
        return (g * rows + (m * rep + (head % rep)) * l + row) * l;
      });
    });
    multiplier = tf.tensor3d(values, [hkv, rows, l]);
  }
  return {
    qs: pickRows(s.qs, chunks),
    k: chunk(s.k, j),
    v: chunk(s.v, j),
    norm: s.norm === undefined ? null : chunk(s.norm, j),
    bias: bias === null ? null : tf.tensor1d(bias),
    multiplier,
    w: tf.tensor3d(wRows, [hkv, rows, 1]),
  };
}

/**
 * Whether step j runs on the query chunks with W_ij ≠ 0 only (plus the forward-only pass for dW) or
 * on all of them: selecting rows costs copies, so a step with many active chunks runs whole (rows with
 * W_ij = 0 then contribute exact zeros).
 */
function useSubset(chunks: Int32Array, b: number): boolean {
  return chunks.length <= b / 2;
}

function streamingCore(p: CrossAttentionProblem, allPairsWeightGradient: boolean) {
  const { b, hkv, rep, l, d } = p;
  return tf.customGrad((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [q, k, v, w, norm] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    save(args as tf.Tensor[]);
    const s: Saved = { qs: queryRows(q, p, true), k, v, norm, w: w.dataSync() as Float32Array };
    const active = activeChunks(s.w, b);
    let out: tf.Tensor | null = null;
    active.forEach((chunks, j) => {
      if (chunks.length === 0) return; // nobody retrieves chunk j
      const subset = useSubset(chunks, b) ? chunks : null;
      out = accumulate(out, () => {
        const x = stepInputs(p, s, j, subset);
        const term = tf.reshape(tf.mul(pairForward(x).a, x.w), [hkv, subset?.length ?? b, rep * l * d]);
        return scatterChunks(b, subset, term);
      });
    });
    const value = headsFromRows(tf.reshape(out ?? tf.zeros([hkv, b, rep * l * d]), [hkv, b, rep * l, d]), p, true);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [q2, k2, v2, , norm2] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const qs2 = queryRows(q2, p, true);
        const s2: Saved = { qs: qs2, k: k2, v: v2, norm: norm2, w: s.w };
        const gy = rowsFromHeads(dy as tf.Tensor, p, true); // [Hkv, B, rep·L, D]
        // [Hkv, D, B, rep·L], made on first use (only steps over all rows use them).
        let both: { gyT: tf.Tensor; qsT: tf.Tensor } | null = null;
        const transposed = () => {
          both ??= tf.tidy(() => ({
            gyT: tf.keep(tf.transpose(gy, [0, 3, 1, 2])),
            qsT: tf.keep(tf.transpose(qs2, [0, 3, 1, 2])),
          }));
          return both;
        };
        let dqs: tf.Tensor | null = null;
        const dk: tf.Tensor[] = [];
        const dv: tf.Tensor[] = [];
        const dnorm: tf.Tensor[] = [];
        const dw: tf.Tensor[] = [];
        active.forEach((chunks, j) => {
          // [dW[:, j], dk_j, dv_j, (d‖v_j‖), (dqs contribution)]
          const [dwj, dkj, dvj, ...rest] = tf.tidy(() => {
            let dwj: tf.Tensor | null = null;
            const subset = useSubset(chunks, b) ? chunks : null;
            if (!allPairsWeightGradient && chunks.length === 0) dwj = tf.zeros([b]);
            else if (allPairsWeightGradient && (subset !== null || chunks.length === 0)) {
              // dL/dW_ij = Σ gy ⊙ A_ij for every i: a forward-only pass over all rows.
              const x = stepInputs(p, s2, j, null);
              const t = tf.sum(tf.mul(pickRows(gy, null), pairForward(x).a), -1);
              dwj = tf.sum(tf.reshape(t, [hkv, b, rep * l]), [0, 2]);
            }
            if (chunks.length === 0) {
              // Nobody retrieves chunk j: its keys and values get no gradient, q none from it.
              const grads = [dwj as tf.Tensor, tf.zeros([hkv, l, d]), tf.zeros([hkv, l, d])];
              if (norm2 !== undefined) grads.push(tf.zeros([hkv, l, 1]));
              return grads;
            }
            const x = stepInputs(p, s2, j, subset);
            const gyRows = pickRows(gy, subset);
            const g = pairBackward(x, pairForward(x), {
              gy: gyRows,
              // [Hkv, D, rows]: transposed once for all steps, or for the few rows of a subset.
              gyT: subset === null ? tf.reshape(transposed().gyT, [hkv, d, -1]) : tf.transpose(gyRows, [0, 2, 1]),
              qsT: subset === null ? tf.reshape(transposed().qsT, [hkv, d, -1]) : tf.transpose(x.qs, [0, 2, 1]),
              w: x.w,
            });
            // dL/dW_ij from this step's own rows: every row (masked to W's support without allPairs), or the subset's.
            const own = () => {
              const perChunk = tf.sum(tf.reshape(g.t, [hkv, subset?.length ?? b, rep * l]), [0, 2]);
              if (subset !== null) return tf.reshape(scatterChunks(b, subset, tf.reshape(perChunk, [1, -1, 1])), [b]);
              const support = Float32Array.from({ length: b }, (_, i) => (s.w[i * b + j] !== 0 ? 1 : 0));
              return allPairsWeightGradient ? perChunk : tf.mul(perChunk, tf.tensor1d(support));
            };
            const grads = [dwj ?? own(), tf.transpose(g.dkT, [0, 2, 1]), tf.transpose(g.dvT, [0, 2, 1])];
            if (g.dnormT !== null) grads.push(tf.reshape(g.dnormT, [hkv, l, 1]));
            grads.push(scatterChunks(b, subset, tf.reshape(g.dqs, [hkv, subset?.length ?? b, rep * l * d])));
            return grads;
          }) as tf.Tensor[];
          dw.push(dwj as tf.Tensor);
          dk.push(dkj as tf.Tensor);
          dv.push(dvj as tf.Tensor);
          if (norm2 !== undefined) dnorm.push(rest.shift() as tf.Tensor);
          if (rest.length > 0) dqs = addInto(dqs, rest[0] as tf.Tensor);
        });
        const dqsTotal: tf.Tensor = dqs ?? tf.zeros([hkv, b, rep * l * d]);
        const grads = [
          tf.tidy(() => headsFromRows(tf.reshape(dqsTotal, [hkv, b, rep * l, d]), p, true, 1 / Math.sqrt(d))),
          tf.stack(dk),
          tf.stack(dv),
          tf.stack(dw, 1), // column j holds dL/dW[:, j]
        ];
        if (norm2 !== undefined) grads.push(tf.stack(dnorm));
        tf.dispose([dqsTotal, qs2, gy, both ?? [], ...dk, ...dv, ...dnorm, ...dw]);
        return grads;
      },
    };
  }) as (...inputs: tf.Tensor[]) => tf.Tensor;
}
