import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { frugalVariableGrads, recomputeInBackward, rmsNorm, siluGate } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { maxAbsDiff, seededValues } from "../support/reference.js";

/*
 * A piece with two inputs, two outputs, a trained weight, a frozen weight and a seeded dropout:
 * run plainly and through recomputeInBackward, the value and every gradient must agree.
 */
function piece(w: tf.Variable, frozen: tf.Variable, norm: tf.Variable) {
  return (x: tf.Tensor, skip: tf.Tensor): tf.Tensor[] => {
    const h = rmsNorm(x, norm, 1e-5);
    const dropped = tf.dropout(h, 0.25, undefined, 1234);
    const a = tf.matMul(dropped, w, false, true); // [N, 12]
    const b = tf.matMul(h, frozen); // [N, 12]
    return [siluGate(a, b), tf.add(skip, tf.sum(a, -1, true))];
  };
}

describeEachBackend("recomputeInBackward", () => {
  it("gives the gradients of the plain computation for inputs and trained weights, under both gradient functions, with either backward", () => {
    const w = tf.variable(tf.tensor(seededValues([12, 8], 1), [12, 8]), true);
    const norm = tf.variable(tf.tensor(seededValues([8], 2), [8]), true);
    const frozen = tf.variable(tf.tensor(seededValues([8, 12], 3), [8, 12]), false);
    const inputW = tf.variable(tf.tensor(seededValues([6, 8], 4), [6, 8]), true);
    const skip = tf.variable(tf.tensor(seededValues([6, 1], 5), [6, 1]), true);
    const f = piece(w, frozen, norm);
    const loss = (recompute: boolean, backward?: "frugal" | "engine") => (): tf.Scalar =>
      tf.tidy(() => {
        const x = tf.mul(inputW, 1.5); // an input computed on the tape, as a layer's input is
        const [g, s] = recompute
          ? recomputeInBackward(f, [x, skip], [w, norm, frozen], backward ? { backward } : {})
          : f(x, skip);
        return tf.add(tf.sum(tf.square(g as tf.Tensor)), tf.sum(tf.sin(s as tf.Tensor))) as tf.Scalar;
      });
    const vars = [w, norm, inputW, skip];
    const plain = tf.variableGrads(loss(false), vars);
    for (const [run, backward] of [
      [tf.variableGrads, "frugal"],
      [frugalVariableGrads, "frugal"],
      [tf.variableGrads, "engine"],
      [frugalVariableGrads, "engine"],
    ] as const) {
      const before = tf.memory().numTensors;
      const ours = run(loss(true, backward), vars);
      expect(Math.abs((ours.value.dataSync()[0] as number) - (plain.value.dataSync()[0] as number))).toBeLessThan(1e-5);
      expect(Object.keys(ours.grads).sort()).toEqual(Object.keys(plain.grads).sort());
      for (const [name, g] of Object.entries(plain.grads)) {
        expect(maxAbsDiff((ours.grads[name] as tf.Tensor).dataSync(), g.dataSync()), name).toBeLessThan(1e-5);
      }
      tf.dispose([ours.value, ours.grads]);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([plain.value, plain.grads, w, norm, frozen, inputW, skip]);
  });

  it("outside a gradient computation it is the plain computation", () => {
    const w = tf.variable(tf.tensor(seededValues([12, 8], 6), [12, 8]));
    const norm = tf.variable(tf.ones([8]));
    const frozen = tf.variable(tf.tensor(seededValues([8, 12], 7), [8, 12]), false);
    const x = tf.tensor(seededValues([6, 8], 8), [6, 8]);
    const skip = tf.zeros([6, 1]);
    const f = piece(w, frozen, norm);
    const plain = tf.tidy(() => f(x, skip).map((t) => Array.from(t.dataSync())));
    const ours = tf.tidy(() => recomputeInBackward(f, [x, skip], [w]).map((t) => Array.from(t.dataSync())));
    expect(ours).toEqual(plain);
    tf.dispose([w, norm, frozen, x, skip]);
  });

  it("passes its constants to the piece in forward and in backward, kept even where the caller disposed of them", () => {
    const x = tf.variable(tf.tensor2d([1, -2, 3, 0.5], [2, 2]));
    const { value, grads } = frugalVariableGrads(() => {
      const scale = tf.tensor2d([2, 3, 5, 7], [2, 2]);
      const [y] = recomputeInBackward((input, c) => [tf.mul(tf.square(input), c as tf.Tensor)], [x], [], {
        constants: [scale],
      });
      // Backward runs after this: a piece that closed over `scale` would read a disposed tensor.
      scale.dispose();
      return tf.sum(y as tf.Tensor) as tf.Scalar;
    }, [x]);
    expect(Array.from(value.dataSync())).toEqual([2 * 1 + 3 * 4 + 5 * 9 + 7 * 0.25]);
    // d/dx Σ c·x² = 2·c·x
    expect(Array.from((grads[x.name] as tf.Tensor).dataSync())).toEqual([4, -12, 30, 7]);
    tf.dispose([value, grads, x]);
  });

  it("keeps its inputs and constants for backward, not its outputs", () => {
    // Counted as data buffers: tf.memory().numBytes also counts the tape's clones, which share data.
    const x = tf.variable(tf.tensor(seededValues([4, 8], 9), [4, 8]));
    let kept = -1;
    const { value, grads } = frugalVariableGrads(() => {
      const before = tf.memory().numDataBuffers;
      const [a] = tf.tidy(() => {
        const input = tf.neg(x); // one buffer, kept as the piece's input (tf.neg keeps nothing)
        // Three outputs: only `a` leaves this tidy; `b` and `c` are freed unless the op keeps them.
        const [first] = recomputeInBackward((t) => [tf.sin(t), tf.cos(t), tf.exp(t)], [input]);
        return [first as tf.Tensor];
      });
      kept = tf.memory().numDataBuffers - before - 1; // less a's own buffer
      return tf.sum(a as tf.Tensor) as tf.Scalar;
    }, [x]);
    expect(kept).toBe(1);
    expect(
      maxAbsDiff(
        (grads[x.name] as tf.Tensor).dataSync(),
        tf.tidy(() => tf.neg(tf.cos(tf.neg(x))).dataSync()),
      ),
    ).toBeLessThan(1e-6);
    tf.dispose([value, grads, x]);
  });

  it("names what is wrong with its arguments", () => {
    const x = tf.ones([2]);
    const id = (t: tf.Tensor) => [t];
    expect(() => recomputeInBackward(id, [])).toThrow(
      "recomputeInBackward: inputs must be a non-empty array of tensors",
    );
    expect(() => recomputeInBackward(id, [x], [x as unknown as tf.Variable])).toThrow(
      "recomputeInBackward: variables must be an array of tf.Variable",
    );
    expect(() => recomputeInBackward(id, [x], [], { constants: [1 as unknown as tf.Tensor] })).toThrow(
      "recomputeInBackward: options.constants must be an array of tensors",
    );
    expect(() => recomputeInBackward(id, [x], [], { backward: "eager" as "frugal" })).toThrow(
      'recomputeInBackward: options.backward must be "frugal" or "engine", got "eager"',
    );
    x.dispose();
  });
});
