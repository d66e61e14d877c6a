import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { frugalVariableGrads } from "../../src/index.js";
import { describeEachBackend } from "../support/backends.js";
import { type BlockConfig, blockInputTensors, blockLmLoss, makeBlockWeights, makeRope } from "../support/llamaBlock.js";
import { maxAbsDiff } from "../support/reference.js";

const cfg: BlockConfig = { d: 32, heads: 4, kvHeads: 2, ffn: 48, seq: 8, batch: 2, vocab: 53 };

describeEachBackend("frugalVariableGrads", () => {
  it("gives tf.variableGrads' value and gradients for a LLaMA block (custom-gradient ops included)", () => {
    const w = makeBlockWeights(cfg, 3);
    const { ids, mask, labels } = blockInputTensors(cfg, 4);
    const rope = makeRope(cfg);
    const vars = Object.values(w) as tf.Variable[];
    const loss = () => blockLmLoss(cfg, w, ids, mask, labels, rope);
    const before = tf.memory().numTensors;
    const stock = tf.variableGrads(loss, vars);
    const ours = frugalVariableGrads(loss, vars);
    expect(ours.value.dataSync()[0]).toBe(stock.value.dataSync()[0]);
    expect(Object.keys(ours.grads).sort()).toEqual(Object.keys(stock.grads).sort());
    for (const [name, g] of Object.entries(stock.grads)) {
      const mine = ours.grads[name] as tf.Tensor;
      expect(mine.shape, name).toEqual(g.shape);
      expect(maxAbsDiff(mine.dataSync(), g.dataSync()), name).toBeLessThan(1e-6);
    }
    tf.dispose([stock.value, ours.value, stock.grads, ours.grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask, labels, rope.cos, rope.sin, vars]);
  });

  it("handles a variable used twice, an identity gradient and a variable off the path", () => {
    const a = tf.variable(tf.tensor1d([0.5, -1, 2]), true, `frugal/a/${Math.random()}`);
    const b = tf.variable(tf.tensor1d([3, 1, -2]), true, `frugal/b/${Math.random()}`);
    const unused = tf.variable(tf.tensor1d([1]), true, `frugal/unused/${Math.random()}`);
    const f = () => tf.sum(tf.add(tf.mul(a, a), tf.mul(tf.clone(a), b))) as tf.Scalar;
    const before = tf.memory().numTensors;
    const { value, grads } = frugalVariableGrads(f, [a, b, unused]);
    // d/da = 2a + b, d/db = a
    expect(Array.from(grads[a.name]?.dataSync() ?? [])).toEqual([4, -1, 2]);
    expect(Array.from(grads[b.name]?.dataSync() ?? [])).toEqual([0.5, -1, 2]);
    expect(grads[unused.name]).toBeUndefined();
    expect(value.dataSync()[0]).toBeCloseTo(0.25 + 1 + 4 + 1.5 - 1 - 4, 6);
    tf.dispose([value, grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, unused]);
  });

  it("releases saved activations and spent gradients while it walks back (tf.variableGrads keeps them)", () => {
    const x = tf.variable(tf.fill([4096], 0.01), true, `frugal/x/${Math.random()}`);
    let liveAtFirstNode = 0;
    // Runs its gradient last: by then a frugal walk has freed the chain's saved tensors and grads.
    const probe = tf.customGrad(((t: tf.Tensor) => ({
      value: tf.mul(t, 1),
      gradFunc: (dy: tf.Tensor) => {
        liveAtFirstNode = tf.memory().numTensors;
        return tf.mul(dy, 1);
      },
    })) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor) => tf.Tensor;
    const f = () => {
      let h = probe(x);
      for (let i = 0; i < 30; i++) h = tf.sin(h); // sin saves its input: 30 activations
      return tf.sum(h) as tf.Scalar;
    };
    const stock = tf.variableGrads(f, [x]);
    const stockLive = liveAtFirstNode;
    const ours = frugalVariableGrads(f, [x]);
    const oursLive = liveAtFirstNode;
    expect(maxAbsDiff(ours.grads[x.name]?.dataSync() ?? [], stock.grads[x.name]?.dataSync() ?? [])).toBe(0);
    expect(stockLive - oursLive).toBeGreaterThanOrEqual(55); // ~30 saved inputs + ~30 gradients
    tf.dispose([stock.value, stock.grads, ours.value, ours.grads, x]);
  });

  it("fails with a clear message and leaks nothing when f is not a function of the variables or not scalar", () => {
    const a = tf.variable(tf.tensor1d([1, 2]), true, `frugal/c/${Math.random()}`);
    const before = tf.memory().numTensors;
    expect(() => frugalVariableGrads(() => tf.sum(tf.tensor1d([1, 2])) as tf.Scalar, [a])).toThrow(
      /does not depend on any of the 1 trainable variables/,
    );
    expect(() => frugalVariableGrads(() => tf.mul(a, 2) as unknown as tf.Scalar, [a])).toThrow(
      /must return a scalar tensor, got shape \[2\]/,
    );
    expect(() => frugalVariableGrads(() => tf.sum(a) as tf.Scalar, [])).toThrow(/non-empty array/);
    expect(() =>
      tf.grad((t: tf.Tensor) => frugalVariableGrads(() => tf.sum(tf.mul(a, t)) as tf.Scalar, [a]).value)(a),
    ).toThrow(/cannot run inside another gradient computation/);
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });
});
