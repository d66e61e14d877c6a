import * as tf from "@tensorflow/tfjs";
import { accumulate, addInto } from "./accumulate.js";
import { fillPairMultipliers } from "./dropoutMask.js";
import { type PairInputs, pairBackward, pairForward } from "./pairBlock.js";
import { type CrossAttentionProblem, MASKED_SCORE } from "./problem.js";
import { headsFromRows, queryRows, rowsFromHeads } from "./queryRows.js";
import { safeL2Norm } from "./safeL2Norm.js";
import { selectTopK } from "./selectTopK.js";

/**
 * `topk`: each query chunk i attends only to the `topK` chunks j with the largest W_ij, so the work
 * is B·k pairs instead of B². Slot s holds every chunk's s-th choice: one batched step of B pairs,
 * [B, Hkv, rep·L, L] scores, with the same hand-derived gradient as `streaming`. W_ij of pairs
 * left out gets no gradient (they contribute nothing). The selection itself is not differentiated.
 *
 * q [B, H, L, D], k/v [B, Hkv, L, D], w [B, B] → [B, H, L, D].
 */
export function topkCrossAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  w: tf.Tensor,
  p: CrossAttentionProblem,
  topK: number,
): tf.Tensor {
  const slots = transposeChoices(selectTopK(w.dataSync(), p.b, p.b, topK), topK);
  // The core makes the query rows [B, Hkv, rep·L, D] times 1/√D itself (`queryRows`).
  const inputs = p.valueNorm ? [q, k, v, w, safeL2Norm(v)] : [q, k, v, w];
  return topkCore(p, slots)(...inputs);
}

/** choices[i] = chunk i's picks, best first → slots[s][i] = chunk i's s-th pick. */
function transposeChoices(choices: Int32Array[], topK: number): Int32Array[] {
  return Array.from({ length: topK }, (_, s) => Int32Array.from(choices, (row) => row[s] as number));
}

/** [B(j), B(i)] with a 1 where chunk i picked chunk j in this slot: scatters per-i gradients to chunks j. */
function scatterMatrix(b: number, picks: Int32Array): tf.Tensor2D {
  const m = new Float32Array(b * b);
  picks.forEach((j, i) => {
    m[j * b + i] = 1;
  });
  return tf.tensor2d(m, [b, b]);
}

/** Sum of x [B, …] rows into the chunks they came from (exact: one-hot products). */
function scatterRows(b: number, picks: Int32Array, x: tf.Tensor): tf.Tensor {
  return tf.reshape(tf.matMul(scatterMatrix(b, picks), tf.reshape(x, [b, -1])), x.shape);
}

function slotInputs(
  p: CrossAttentionProblem,
  qs: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  norm: tf.Tensor | undefined,
  w: tf.Tensor,
  picks: Int32Array,
): PairInputs & { wRows: tf.Tensor } {
  const { b, h, hkv, rep, l } = p;
  const index = tf.tensor1d(picks, "int32");
  let bias: tf.Tensor | null = null;
  if (p.keyMask !== null) {
    const mask = p.keyMask;
    const values = new Float32Array(b * l);
    picks.forEach((j, i) => {
      for (let c = 0; c < l; c++) values[i * l + c] = mask[j * l + c] === 1 ? 0 : MASKED_SCORE;
    });
    if (values.some((x) => x !== 0)) bias = tf.tensor4d(values, [b, 1, 1, l]);
  }
  const flat = tf.tensor1d(
    Int32Array.from(picks, (j, i) => i * b + j),
    "int32",
  );
  const wRows = tf.broadcastTo(tf.reshape(tf.gather(tf.reshape(w, [b * b]), flat), [b, 1, 1, 1]), [b, hkv, rep * l, 1]);
  let multiplier: tf.Tensor | null = null;
  if (p.dropout !== null) {
    const values = new Float32Array(b * h * l * l);
    // [B, Hkv, rep·L, L] has the memory order of [B, H, L, L]: pair (i, picks[i]) is block i.
    picks.forEach((j, i) => {
      fillPairMultipliers(values, p.dropout!, i, j, h, l, (head, row) => ((i * h + head) * l + row) * l);
    });
    multiplier = tf.tensor4d(values, [b, hkv, rep * l, l]);
  }
  return {
    qs,
    k: tf.gather(k, index),
    v: tf.gather(v, index),
    norm: norm === undefined ? null : tf.gather(norm, index),
    bias,
    multiplier,
    wRows,
  };
}

function topkCore(p: CrossAttentionProblem, slots: Int32Array[]) {
  const { b } = p;
  return tf.customGrad((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [q, k, v, w, norm] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    save(args as tf.Tensor[]);
    const qs = queryRows(q, p, false);
    let out: tf.Tensor | null = null;
    for (const picks of slots) {
      out = accumulate(out, () => {
        const s = slotInputs(p, qs, k, v, norm, w, picks);
        return tf.mul(pairForward(s).a, s.wRows);
      });
    }
    return {
      value: headsFromRows(out as tf.Tensor, p, false),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [q2, k2, v2, w2, norm2] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const qs2 = queryRows(q2, p, false);
        const gy = rowsFromHeads(dy as tf.Tensor, p, false); // [B, Hkv, rep·L, D]
        const gyT = tf.transpose(gy, [0, 1, 3, 2]);
        const qsT = tf.transpose(qs2, [0, 1, 3, 2]);
        let dqs: tf.Tensor | null = null;
        let dk: tf.Tensor | null = null;
        let dv: tf.Tensor | null = null;
        let dnorm: tf.Tensor | null = null;
        let dw: tf.Tensor | null = null;
        for (const picks of slots) {
          const [gq, gk, gv, gw, gn] = tf.tidy((): tf.Tensor[] => {
            const s = slotInputs(p, qs2, k2, v2, norm2, w2, picks);
            const g = pairBackward(s, pairForward(s), { gy, gyT, qsT, w: s.wRows });
            const dwPicked = tf.sum(g.t, [1, 2, 3]); // [B]: dL/dW[i, picks[i]]
            const grads = [
              g.dqs,
              scatterRows(b, picks, tf.transpose(g.dkT, [0, 1, 3, 2])),
              scatterRows(b, picks, tf.transpose(g.dvT, [0, 1, 3, 2])),
              tf.transpose(tf.mul(scatterMatrix(b, picks), dwPicked)), // [B(i), B(j)]
            ];
            if (g.dnormT !== null) grads.push(scatterRows(b, picks, tf.reshape(g.dnormT, norm2!.shape)));
            return grads;
          }) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
          dqs = addInto(dqs, gq);
          dk = addInto(dk, gk);
          dv = addInto(dv, gv);
          dw = addInto(dw, gw);
          if (gn !== undefined) dnorm = addInto(dnorm, gn);
        }
        const dq = headsFromRows(dqs as tf.Tensor, p, false, 1 / Math.sqrt(p.d));
        tf.dispose([gy, gyT, qsT, qs2, dqs as tf.Tensor]);
        const grads = [dq, dk as tf.Tensor, dv as tf.Tensor, dw as tf.Tensor];
        if (norm2 !== undefined) grads.push(dnorm as tf.Tensor);
        return grads;
      },
    };
  }) as (...inputs: tf.Tensor[]) => tf.Tensor;
}
