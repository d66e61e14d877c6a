import * as tf from "@tensorflow/tfjs";
import { requireDtype, requireTensor } from "./checkShapes.js";
import { IGNORE_INDEX } from "./crossEntropy.js";

export interface HeadCrossEntropyOptions {
  /** Vocabulary rows per slice. Default 8192. */
  sliceSize?: number;
  /**
   * Keep each slice's softmax [N, size] from forward (N·V floats in all) so that backward neither
   * recomputes the logits (a [N, d]·[d, V] product) nor their exponent. Default false: the point of
   * the op is that no [N, V] tensor exists; callers turn it on where N·V is small.
   */
  keepProbabilities?: boolean;
}

/**
 * The LM head and the mean token cross-entropy in one op, over slices of the vocabulary, so that no
 * [N, V] tensor ever exists: tokenCrossEntropy(hidden · headᵀ, labels) without the logits. With a
 * 128k–152k vocabulary the logits and their gradient were 0.6–2.8 GiB at B 16 × L 156.
 * Forward keeps a running log-sum-exp per row; backward recomputes each slice's logits, turns them
 * into (softmax − onehot) · weight · dy and accumulates d hidden (and d head, when the head trains —
 * a frozen head, e.g. tied embeddings under LoRA, gets no gradient and costs no product). With
 * `keepProbabilities`, forward keeps each slice's exp(z − m) and its row maximum m instead, and
 * backward rescales them by exp(m − lse): no product and no exponent over [N, V] in backward.
 * hidden: [N, d] float32; head: [V, d] (nn.Linear layout); labels: [N] int32 in [0, V) or −100.
 */
export function headCrossEntropy(
  hidden: tf.Tensor,
  head: tf.Tensor,
  labels: tf.Tensor,
  options: HeadCrossEntropyOptions = {},
): tf.Scalar {
  const op = "headCrossEntropy";
  requireTensor(op, "hidden", hidden);
  requireTensor(op, "head", head);
  requireTensor(op, "labels", labels);
  requireDtype(op, "hidden", hidden, "float32");
  requireDtype(op, "head", head, "float32");
  requireDtype(op, "labels", labels, "int32");
  if (hidden.rank !== 2 || head.rank !== 2 || hidden.shape[1] !== head.shape[1]) {
    throw new Error(
      `${op}: hidden must be [N, d] and head [V, d] with the same d, got hidden [${hidden.shape.join(", ")}] and head [${head.shape.join(", ")}]`,
    );
  }
  const [n, d] = hidden.shape as [number, number];
  const v = head.shape[0] as number;
  if (labels.rank !== 1 || labels.shape[0] !== n) {
    throw new Error(`${op}: labels must be [${n}] like hidden's rows, got [${labels.shape.join(", ")}]`);
  }
  const sliceSize = options.sliceSize ?? 8192;
  const keepProbabilities = options.keepProbabilities ?? false;
  if (!Number.isInteger(sliceSize) || sliceSize < 1) {
    throw new Error(`${op}: options.sliceSize must be a positive integer, got ${sliceSize}`);
  }
  const labelValues = labels.dataSync() as Int32Array;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const y = labelValues[i] as number;
    if (y === IGNORE_INDEX) continue;
    if (!(y >= 0 && y < v)) throw new Error(`${op}: labels[${i}] is ${y}; it must be in [0, ${v}) or ${IGNORE_INDEX}`);
    count++;
  }
  const rowWeights = Float32Array.from(labelValues, (y) => (y === IGNORE_INDEX || count === 0 ? 0 : 1 / count));
  const slices: { start: number; size: number; rows: Int32Array; at: Int32Array }[] = [];
  for (let start = 0; start < v; start += sliceSize) {
    const size = Math.min(sliceSize, v - start);
    // Rows whose label falls in this slice, and the label's flat index in the slice's [N, size] logits.
    const rows: number[] = [];
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = labelValues[i] as number;
      if (y >= start && y < start + size) {
        rows.push(i);
        at.push(i * size + (y - start));
      }
    }
    slices.push({ start, size, rows: Int32Array.from(rows), at: Int32Array.from(at) });
  }
  const headTrains = !(head instanceof tf.Variable) || head.trainable;
  const logitsOf = (h: tf.Tensor, w: tf.Tensor, s: { start: number; size: number }) =>
    tf.matMul(h, tf.slice(w, [s.start, 0], [s.size, d]), false, true); // [N, size]

  const lossFn = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const h = args[0] as tf.Tensor;
    const w = headTrains ? (args[1] as tf.Tensor) : head;
    const weights = tf.tensor1d(rowWeights);
    let max: tf.Tensor = tf.fill([n], -Infinity);
    let sum: tf.Tensor = tf.zeros([n]);
    let picked: tf.Tensor = tf.zeros([n]);
    // With keepProbabilities: per slice exp(z − m_s) [N, size] and the running maximum m_s [N] it used.
    const kept: tf.Tensor[] = [];
    for (const s of slices) {
      const next = tf.tidy(() => {
        const z = logitsOf(h, w, s);
        const m = tf.maximum(max, tf.max(z, 1));
        const e = tf.exp(tf.sub(z, tf.reshape(m, [n, 1])));
        const total = tf.add(tf.mul(sum, tf.exp(tf.sub(max, m))), tf.sum(e, 1));
        const target = s.rows.length
          ? tf.add(
              picked,
              tf.scatterND(
                tf.tensor2d(s.rows, [s.rows.length, 1], "int32"),
                tf.gather(tf.reshape(z, [-1]), tf.tensor1d(s.at, "int32")),
                [n],
              ),
            )
          : tf.clone(picked);
        return keepProbabilities ? { m, total, target, e, mKept: tf.clone(m) } : { m, total, target };
      });
      tf.dispose([max, sum, picked]);
      if (next.e && next.mKept) kept.push(next.e, next.mKept);
      max = next.m;
      sum = next.total;
      picked = next.target;
    }
    const lse = tf.add(max, tf.log(sum)); // [N]
    const value = tf.sum(tf.mul(tf.sub(lse, picked), weights));
    save([h, lse, weights, ...(headTrains ? [w] : []), ...kept]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, ls, ws] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const wSaved = headTrains ? (saved[3] as tf.Tensor) : head;
        const keptSaved = saved.slice(headTrains ? 4 : 3);
        const scale = tf.mul(ws, dy); // [N]
        let dHidden: tf.Tensor = tf.zeros([n, d]);
        const dHead: tf.Tensor[] = [];
        slices.forEach((s, index) => {
          const { dh, dw } = tf.tidy(() => {
            // softmax = exp(z − lse): recomputed, or the kept exp(z − m_s) times exp(m_s − lse).
            const softmax = keepProbabilities
              ? tf.mul(
                  keptSaved[2 * index] as tf.Tensor,
                  tf.reshape(tf.exp(tf.sub(keptSaved[2 * index + 1] as tf.Tensor, ls)), [n, 1]),
                )
              : tf.exp(tf.sub(logitsOf(hs, wSaved, s), tf.reshape(ls, [n, 1])));
            // (softmax − onehot) · weight · dy for this slice's columns.
            let g: tf.Tensor = tf.mul(softmax, tf.reshape(scale, [n, 1]));
            if (s.rows.length) {
              const onehot = tf.scatterND(
                tf.tensor2d(s.at, [s.at.length, 1], "int32"),
                tf.gather(scale, tf.tensor1d(s.rows, "int32")),
                [n * s.size],
              );
              g = tf.sub(g, tf.reshape(onehot, [n, s.size]));
            }
            const wSlice = tf.slice(wSaved, [s.start, 0], [s.size, d]);
            const out: { dh: tf.Tensor; dw?: tf.Tensor } = { dh: tf.add(dHidden, tf.matMul(g, wSlice)) }; // [N, d]
            if (headTrains) out.dw = tf.matMul(g, hs, true, false); // [size, d]
            return out as unknown as tf.TensorContainer;
          }) as unknown as { dh: tf.Tensor; dw?: tf.Tensor };
          dHidden.dispose();
          dHidden = dh;
          if (dw) dHead.push(dw);
        });
        scale.dispose();
        if (!headTrains) return [dHidden];
        const dw = dHead.length === 1 ? (dHead[0] as tf.Tensor) : tf.concat(dHead, 0);
        if (dHead.length > 1) tf.dispose(dHead);
        return [dHidden, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (headTrains ? lossFn(hidden, head) : lossFn(hidden)) as tf.Scalar;
}
