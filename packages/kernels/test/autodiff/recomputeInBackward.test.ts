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
  it("gives the gradients of the plain computation for inputs and trained weights, under both gradient functions", () => {
    const w = tf.variable(tf.tensor(seededValues([12, 8], 1), [12, 8]), true);
    const norm = tf.variable(tf.tensor(seededValues([8], 2), [8]), true);
    const frozen = tf.variable(tf.tensor(seededValues([8, 12], 3), [8, 12]), false);
    const inputW = tf.variable(tf.tensor(seededValues([6, 8], 4), [6, 8]), true);
    const skip = tf.variable(tf.tensor(seededValues([6, 1], 5), [6, 1]), true);
    const f = piece(w, frozen, norm);
    const loss = (recompute: boolean) => (): tf.Scalar =>
      tf.tidy(() => {
        const x = tf.mul(inputW, 1.5); // an input computed on the tape, as a layer's input is
        const [g, s] = recompute ? recomputeInBackward(f, [x, skip], [w, norm, frozen]) : f(x, skip);
        return tf.add(tf.sum(tf.square(g as tf.Tensor)), tf.sum(tf.sin(s as tf.Tensor))) as tf.Scalar;
      });
    const vars = [w, norm, inputW, skip];
    const plain = tf.variableGrads(loss(false), vars);
    for (const run of [tf.variableGrads, frugalVariableGrads]) {
      const before = tf.memory().numTensors;
      const ours = run(loss(true), vars);
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
});
