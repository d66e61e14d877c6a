import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { pool } from "../../src/index.js";

// hidden[b, t, :] = [100 b + t, −(100 b + t)]: the pooled row says which position was picked.
function hidden(b: number, l: number): tf.Tensor3D {
  const values = new Float32Array(b * l * 2);
  for (let i = 0; i < b; i++) {
    for (let t = 0; t < l; t++) {
      values[(i * l + t) * 2] = 100 * i + t;
      values[(i * l + t) * 2 + 1] = -(100 * i + t);
    }
  }
  return tf.tensor3d(values, [b, l, 2]);
}

describeEachBackend("pool", () => {
  it("eos with right padding picks the last real token of each row", () => {
    const mask = tf.tensor2d(
      [
        [1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1],
        [1, 0, 0, 0, 0],
      ],
      undefined,
      "int32",
    );
    const out = pool(hidden(3, 5), mask, "eos").arraySync();
    expect(out).toEqual([
      [2, -2],
      [104, -104],
      [200, -200],
    ]);
  });

  it("eos with left padding picks the last position; first picks the first real token", () => {
    const mask = tf.tensor2d(
      [
        [0, 0, 1, 1],
        [1, 1, 1, 1],
      ],
      undefined,
      "int32",
    );
    expect(pool(hidden(2, 4), mask, "eos").arraySync()).toEqual([
      [3, -3],
      [103, -103],
    ]);
    expect(pool(hidden(2, 4), mask, "first").arraySync()).toEqual([
      [2, -2],
      [100, -100],
    ]);
  });

  it("mean averages real tokens only", () => {
    const mask = tf.tensor2d(
      [
        [1, 1, 0],
        [1, 1, 1],
      ],
      undefined,
      "int32",
    );
    const out = pool(hidden(2, 3), mask, "mean").arraySync();
    expect(out[0]![0]).toBeCloseTo(0.5, 6);
    expect(out[1]![0]).toBeCloseTo(101, 6);
  });

  it("is differentiable: the gradient reaches exactly the pooled positions", () => {
    const mask = tf.tensor2d([[1, 1, 0]], undefined, "int32");
    const g = tf.grad((h: tf.Tensor) => tf.sum(pool(h, mask, "eos")))(hidden(1, 3));
    expect(Array.from(g.dataSync())).toEqual([0, 0, 1, 1, 0, 0]);
  });

  it("fails naming the problem", () => {
    expect(() => pool(tf.zeros([2, 3]), tf.ones([2, 3]), "eos")).toThrow(/hidden must be \[B, L, d\], got \[2, 3\]/);
    expect(() => pool(hidden(2, 3), tf.ones([2, 4]), "eos")).toThrow(/attentionMask must be \[2, 3\]/);
    expect(() =>
      pool(
        hidden(2, 3),
        tf.tensor2d([
          [1, 1, 1],
          [0, 0, 0],
        ]),
        "eos",
      ),
    ).toThrow(/row 1 of attentionMask has no token/);
    expect(() => pool(hidden(1, 3), tf.ones([1, 3]), "max" as "eos")).toThrow(
      /pooling must be one of eos, mean, first/,
    );
  });
});
