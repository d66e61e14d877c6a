import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { afterEach, expect, it } from "vitest";
import { AdamW } from "../../src/optim/adamW.js";
import { clipGradNorm } from "../../src/optim/clipGradNorm.js";
import type { NamedVariables } from "../../src/run/namedTrainables.js";
import { StepRunner } from "../../src/run/stepRunner.js";

/** Two groups ("a": w [2], "b": u [1]) and their optimizer; fresh variables per call. */
function setup(maxGradNorm: number, accumulationSteps = 1) {
  const w = tf.variable(tf.tensor1d([0.5, -1]));
  const u = tf.variable(tf.tensor1d([2]));
  const groups: Record<string, NamedVariables> = { a: { "a/w": w }, b: { "b/u": u } };
  const optimizer = new AdamW(
    [
      { name: "a", params: [w], lr: 0.1 },
      { name: "b", params: [u], lr: 0.05 },
    ],
    { weightDecay: 0.01 },
  );
  const runner = new StepRunner({ optimizer, groups, maxGradNorm, accumulationSteps, where: "test" });
  const made = [w, u];
  disposers.push(() => {
    runner.dispose();
    optimizer.dispose();
    tf.dispose(made);
  });
  return { w, u, optimizer, runner };
}
const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

/** loss = Σ (w·x − y)² + scale · u² for a batch (x, y, scale). */
const lossOf =
  (w: tf.Variable, u: tf.Variable, x: number[], y: number[], scale = 1) =>
  () =>
    tf.add(
      tf.sum(tf.square(tf.sub(tf.mul(w, tf.tensor1d(x)), tf.tensor1d(y)))),
      tf.mul(scale, tf.sum(tf.square(u))),
    ) as tf.Scalar;

const values = (v: tf.Variable) => [...v.dataSync()];

describeEachBackend("StepRunner", () => {
  it("is gradients → clip → AdamW, bit for bit the hand-written skeleton, with the norm per group", () => {
    const ours = setup(1);
    const ref = setup(1);
    const batches: [number[], number[]][] = [
      [
        [1, 2],
        [3, -1],
      ],
      [
        [0.5, -2],
        [1, 1],
      ],
      [
        [3, 1],
        [0, 2],
      ],
    ];
    for (const [x, y] of batches) {
      const outcome = ours.runner.run(lossOf(ours.w, ours.u, x, y));
      // The same step by hand.
      const { value, grads } = tf.variableGrads(lossOf(ref.w, ref.u, x, y), [ref.w, ref.u]);
      const gw = Math.hypot(...grads[ref.w.name]!.dataSync());
      const gu = Math.abs(grads[ref.u.name]!.dataSync()[0] as number);
      const norm = clipGradNorm(grads, 1);
      ref.optimizer.step(grads);
      expect(outcome.loss).toBe(value.dataSync()[0]);
      expect(outcome.updateGradNorm).toBe(norm);
      expect(outcome.gradNorm).toBeCloseTo(norm, 5);
      expect(outcome.groupGradNorms.a).toBeCloseTo(gw, 5);
      expect(outcome.groupGradNorms.b).toBeCloseTo(gu, 5);
      expect(outcome.skipped).toBe(0);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(ours.optimizer.stepCount).toBe(3);
    expect(values(ours.w)).toEqual(values(ref.w));
    expect(values(ours.u)).toEqual(values(ref.u));
  });

  it("skips a batch whose loss is not finite: no update, no moment change, counted", () => {
    const { w, u, optimizer, runner } = setup(1);
    runner.run(lossOf(w, u, [1, 1], [0, 0]));
    const before = [values(w), values(u), optimizer.stepCount];
    const state = optimizer.exportState();
    const outcome = runner.run(lossOf(w, u, [Number.NaN, 1], [0, 0]));
    expect(outcome.loss).toBeNaN();
    expect(outcome.skipped).toBe(1);
    expect(outcome.updateGradNorm).toBeNaN();
    expect([values(w), values(u), optimizer.stepCount]).toEqual(before);
    expect(optimizer.exportState()).toEqual(state);
    expect(runner.skipped).toBe(1);
  });

  it("skips a batch whose loss is finite but whose gradient norm is not (clipping off and on)", () => {
    for (const maxGradNorm of [0, 1]) {
      const { w, u, optimizer, runner } = setup(maxGradNorm);
      // √(w² − ¼) at w = ½: a finite loss with an infinite derivative.
      const outcome = runner.run(() => tf.add(tf.sum(tf.sqrt(tf.sub(tf.square(w), 0.25))), tf.sum(u)) as tf.Scalar);
      expect(Number.isFinite(outcome.loss)).toBe(true);
      expect(outcome.gradNorm).toBe(Number.POSITIVE_INFINITY);
      expect(outcome.skipped).toBe(1);
      expect(optimizer.stepCount).toBe(0);
      expect(values(w)).toEqual([0.5, -1].map(Math.fround));
      expect(values(u)).toEqual([2]);
    }
  });

  it("accumulates finite batches into one update of their mean gradient, skipping non-finite ones", () => {
    const ours = setup(0.5, 2);
    const ref = setup(0.5);
    const x1 = [1, 2];
    const x2 = [-1, 3];
    const y = [0.5, 0.5];
    expect(ours.runner.run(lossOf(ours.w, ours.u, x1, y)).updateGradNorm).toBeNaN();
    expect(ours.runner.pending).toBe(1);
    // A skipped batch in between does not count towards the two.
    expect(ours.runner.run(lossOf(ours.w, ours.u, [Number.POSITIVE_INFINITY, 1], y)).skipped).toBe(1);
    expect(ours.optimizer.stepCount).toBe(0);
    const second = ours.runner.run(lossOf(ours.w, ours.u, x2, y));
    expect(ours.optimizer.stepCount).toBe(1);
    expect(ours.runner.pending).toBe(0);
    // The mean of the two batches' losses has the mean gradient.
    const meanLoss = () => tf.div(tf.add(lossOf(ref.w, ref.u, x1, y)(), lossOf(ref.w, ref.u, x2, y)()), 2) as tf.Scalar;
    const reference = ref.runner.run(meanLoss);
    expect(second.updateGradNorm).toBeCloseTo(reference.updateGradNorm, 5);
    for (const [a, b] of [
      [ours.w, ref.w],
      [ours.u, ref.u],
    ] as const) {
      for (const [i, v] of values(a).entries()) expect(v).toBeCloseTo(values(b)[i] as number, 6);
    }
  });

  it("resumes mid-accumulation bit-exactly from its exported sums, under stable names", () => {
    const batches = [
      [1, 2],
      [2, -1],
      [0.5, 0.25],
      [-3, 1],
    ];
    const y = [1, 0];
    const straight = setup(1, 2);
    for (const x of batches) straight.runner.run(lossOf(straight.w, straight.u, x, y));

    const first = setup(1, 2);
    for (const x of batches.slice(0, 3)) first.runner.run(lossOf(first.w, first.u, x, y));
    const pending = first.runner.exportState();
    expect(pending.state.accumulated).toBe(1);
    expect(Object.keys(pending.tensors).sort()).toEqual(["accumulator/a/w", "accumulator/b/u"]);
    const optimizerState = first.optimizer.exportState();

    const resumed = setup(1, 2);
    resumed.w.assign(first.w);
    resumed.u.assign(first.u);
    resumed.optimizer.importState(optimizerState);
    resumed.runner.importState(pending, "resume");
    resumed.runner.run(lossOf(resumed.w, resumed.u, batches[3] as number[], y));
    expect(values(resumed.w)).toEqual(values(straight.w));
    expect(values(resumed.u)).toEqual(values(straight.u));

    expect(() => resumed.runner.importState({ tensors: {}, state: { accumulated: 2 } }, "resume")).toThrow(
      /resume: state\.accumulated must be an integer in \[0, 2\) \(accumulationSteps\), got 2/,
    );
  });

  it("names what is wrong in its options", () => {
    const { optimizer, w } = setup(1);
    const make = (o: Partial<ConstructorParameters<typeof StepRunner>[0]>) =>
      new StepRunner({ optimizer, groups: { a: { "a/w": w } }, maxGradNorm: 1, where: "T", ...o });
    expect(() => make({ maxGradNorm: -1 })).toThrow(/T \(StepRunner\): maxGradNorm must be a finite number ≥ 0/);
    expect(() => make({ accumulationSteps: 1.5 })).toThrow(/accumulationSteps must be an integer ≥ 1, got 1.5/);
    expect(() => make({ groups: { a: {} } })).toThrow(/there are no variables to train/);
    expect(() => make({ groups: { a: { "a/w": w }, b: { "a/w": w } } })).toThrow(/variable "a\/w" is in two groups/);
  });
});
