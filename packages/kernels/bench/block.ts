import { emit, timeMedian } from "@revela/bench";
import * as tf from "@tensorflow/tfjs";
import { llamaBlock, makeBlockWeights, makeRope, REFERENCE_BLOCK } from "../test/support/llamaBlock.js";
import { parseImpl, startImpl } from "./backendForImpl.js";

/** Forward+backward of one LLaMA block at the reference config, gradients for x and every weight. */
const impl = parseImpl(process.argv.slice(2));
const { threads } = await startImpl(impl);
const cfg = REFERENCE_BLOCK;
const { embed, head, ...blockWeights } = makeBlockWeights(cfg);
embed.dispose();
head.dispose();
const weights = Object.values(blockWeights);
const x = tf.variable(tf.randomNormal([cfg.batch, cfg.seq, cfg.d], 0, 1, "float32", 3));
const mask = tf.tensor2d(
  Array.from({ length: cfg.batch }, (_, b) =>
    Array.from({ length: cfg.seq }, (_, t) => (t < cfg.seq - 8 * (b % 4) ? 1 : 0)),
  ),
);
const rope = makeRope(cfg);
const cotangent = tf.randomNormal([cfg.batch, cfg.seq, cfg.d], 0, 1, "float32", 4);

const step = () => {
  const { value, grads } = tf.tidy(() =>
    tf.variableGrads(
      () => tf.sum(tf.mul(llamaBlock(cfg, blockWeights as never, x, mask, rope), cotangent)) as tf.Scalar,
      [x, ...weights],
    ),
  );
  value.dataSync();
  for (const g of Object.values(grads)) g.dataSync();
  value.dispose();
  tf.dispose(grads);
};
const before = tf.memory().numTensors;
const ms = await timeMedian(step, 1, impl === "revela" ? 7 : 3);
const leaked = tf.memory().numTensors - before;
const tokens = cfg.batch * cfg.seq;
const params = { ...cfg, threads, leakedTensors: leaked };
emit({
  bench: "kernels/llama-block",
  case: "fwd+bwd-reference",
  impl,
  metric: "ms",
  value: Number(ms.toFixed(1)),
  unit: "ms",
  params,
});
emit({
  bench: "kernels/llama-block",
  case: "fwd+bwd-reference",
  impl,
  metric: "tokens_per_s",
  value: Number(((tokens / ms) * 1000).toFixed(0)),
  unit: "tokens/s",
  params,
});
