import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { describeEachBackend } from "./support/backends.js";
import { type BlockConfig, blockInputTensors, blockLmLoss, makeBlockWeights, makeRope } from "./support/llamaBlock.js";

const cfg: BlockConfig = { d: 32, heads: 4, kvHeads: 2, ffn: 48, seq: 8, batch: 2, vocab: 53 };

describeEachBackend("training step", () => {
  it("leaves tf.memory().numTensors unchanged and lowers the loss", () => {
    const w = makeBlockWeights(cfg, 3);
    const { ids, mask, labels } = blockInputTensors(cfg, 4);
    const rope = makeRope(cfg);
    const optimizer = tf.train.adam(1e-2);
    const step = () => {
      const loss = optimizer.minimize(() => blockLmLoss(cfg, w, ids, mask, labels, rope), true) as tf.Scalar;
      const value = loss.dataSync()[0] as number;
      loss.dispose();
      return value;
    };
    const first = step(); // creates Adam's slot variables
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 5; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first);
    optimizer.dispose();
    tf.dispose([ids, mask, labels, rope.cos, rope.sin, Object.values(w)]);
  });
});
