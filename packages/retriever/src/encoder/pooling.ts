import * as tf from "@tensorflow/tfjs";

export const POOLINGS = ["eos", "mean", "first"] as const;
export type Pooling = (typeof POOLINGS)[number];

/**
 * One vector per sequence from the backbone's last hidden states.
 * hidden: [B, L, d]; attentionMask: [B, L] (1 = token). Returns [B, d].
 * - `eos`: the last real token (Revela's choice — with EOS appended, it has seen the whole text);
 *   with right padding that is position Σmask − 1, with left padding position L − 1.
 * - `mean`: the average over real tokens. `first`: the first real token.
 */
export function pool(hidden: tf.Tensor, attentionMask: tf.Tensor, pooling: Pooling): tf.Tensor2D {
  const op = "pool";
  if (!(hidden instanceof tf.Tensor) || hidden.rank !== 3)
    throw new Error(`${op}: hidden must be [B, L, d], got ${shapeOf(hidden)}`);
  const [b, l, d] = hidden.shape as [number, number, number];
  if (
    !(attentionMask instanceof tf.Tensor) ||
    attentionMask.rank !== 2 ||
    attentionMask.shape[0] !== b ||
    attentionMask.shape[1] !== l
  ) {
    throw new Error(
      `${op}: attentionMask must be [${b}, ${l}] to match hidden [${b}, ${l}, ${d}], got ${shapeOf(attentionMask)}`,
    );
  }
  if (!(POOLINGS as readonly string[]).includes(pooling))
    throw new Error(`${op}: pooling must be one of ${POOLINGS.join(", ")}, got ${pooling}`);
  const mask = attentionMask.dataSync();
  if (pooling === "mean") {
    return tf.tidy(() => {
      const m = tf.reshape(tf.cast(attentionMask, "float32"), [b, l, 1]);
      const counts = tf.maximum(tf.sum(m, 1), 1); // [B, 1]; an all-padding row pools to zeros
      return tf.div(tf.sum(tf.mul(hidden, m), 1), counts) as tf.Tensor2D;
    });
  }
  const positions = poolingPositions(mask, b, l, pooling);
  const rows = Int32Array.from(positions, (t, i) => i * l + t);
  return tf.tidy(() => tf.gather(tf.reshape(hidden, [b * l, d]), tf.tensor1d(rows, "int32")) as tf.Tensor2D);
}

/**
 * The position each row pools for `eos` (its last real token) and `first` (its first), from the
 * [B, L] mask's values. A row without a token is an error: there is nothing to pool.
 */
export function poolingPositions(
  mask: ArrayLike<number>,
  b: number,
  l: number,
  pooling: Exclude<Pooling, "mean">,
): Int32Array {
  const positions = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    let first = -1;
    let last = -1;
    for (let t = 0; t < l; t++) {
      if ((mask[i * l + t] as number) > 0) {
        if (first < 0) first = t;
        last = t;
      }
    }
    if (last < 0) throw new Error(`pool: row ${i} of attentionMask has no token; cannot pool an empty sequence`);
    positions[i] = pooling === "eos" ? last : first;
  }
  return positions;
}

function shapeOf(t: unknown): string {
  return t instanceof tf.Tensor ? `[${t.shape.join(", ")}]` : String(t);
}
