import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { SeededRandom } from "../../src/data/seededRandom.js";
import { AdamW } from "../../src/optim/adamW.js";
import { LrSchedule } from "../../src/optim/lrSchedule.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

const values = (n: number, seed: string, scale = 1) => {
  const rng = SeededRandom.fromSeed(seed);
  return Array.from({ length: n }, () => (rng.float() * 2 - 1) * scale);
};

/** PyTorch's torch.optim.AdamW (single-tensor, amsgrad off) update for one parameter, in float64. */
function torchAdamWStep(
  p: number[],
  g: number[],
  state: { m: number[]; v: number[] },
  t: number,
  lr: number,
  wd: number,
  beta1 = 0.9,
  beta2 = 0.999,
  eps = 1e-8,
): void {
  const bias1 = 1 - beta1 ** t;
  const bias2Sqrt = Math.sqrt(1 - beta2 ** t);
  const stepSize = lr / bias1;
  for (let i = 0; i < p.length; i++) {
    p[i] = (p[i] as number) * (1 - lr * wd);
    state.m[i] = beta1 * (state.m[i] as number) + (1 - beta1) * (g[i] as number);
    state.v[i] = beta2 * (state.v[i] as number) + (1 - beta2) * (g[i] as number) ** 2;
    const denom = Math.sqrt(state.v[i] as number) / bias2Sqrt + eps;
    p[i] = (p[i] as number) - stepSize * ((state.m[i] as number) / denom);
  }
}

function maxRelError(actual: ArrayLike<number>, expected: number[]): number {
  const scale = Math.max(1e-12, ...expected.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / scale);
  return worst;
}

describe("AdamW", () => {
  it("matches a float64 reference of PyTorch's AdamW over 6 steps, two groups, warm-up + cosine schedule", () => {
    const schedule = new LrSchedule({ kind: "cosine", warmupSteps: 2, totalSteps: 6, floor: 0.1 });
    const shapes = { retriever: [3, 4], lm: [5] };
    const init = { retriever: values(12, "p0"), lm: values(5, "p1", 3) };
    const retriever = tf.variable(tf.tensor(init.retriever, shapes.retriever));
    const lm = tf.variable(tf.tensor(init.lm, shapes.lm));
    const opt = new AdamW(
      [
        { name: "retriever", params: [retriever], lr: 1e-2, weightDecay: 0.1 },
        { name: "lm", params: [lm], lr: 3e-3 },
      ],
      { weightDecay: 0.01, schedule },
    );
    const ref = {
      retriever: { p: [...init.retriever], m: new Array(12).fill(0), v: new Array(12).fill(0) },
      lm: { p: [...init.lm], m: new Array(5).fill(0), v: new Array(5).fill(0) },
    };
    for (let t = 1; t <= 6; t++) {
      // Gradients of very different scales so that eps and bias correction both matter.
      const g = { retriever: values(12, `gr${t}`, 10 ** (t - 3)), lm: values(5, `gl${t}`) };
      // float32 gradients, as the optimizer sees them.
      const g32 = { retriever: [...Float32Array.from(g.retriever)], lm: [...Float32Array.from(g.lm)] };
      const grads = {
        [retriever.name]: tf.tensor(g32.retriever, shapes.retriever),
        [lm.name]: tf.tensor(g32.lm, shapes.lm),
      };
      expect(opt.learningRates()).toEqual({ retriever: 1e-2 * schedule.factor(t), lm: 3e-3 * schedule.factor(t) });
      opt.step(grads);
      tf.dispose(Object.values(grads));
      torchAdamWStep(ref.retriever.p, g32.retriever, ref.retriever, t, 1e-2 * schedule.factor(t), 0.1);
      torchAdamWStep(ref.lm.p, g32.lm, ref.lm, t, 3e-3 * schedule.factor(t), 0.01);
      expect(maxRelError(retriever.dataSync(), ref.retriever.p), `retriever after step ${t}`).toBeLessThan(2e-6);
      expect(maxRelError(lm.dataSync(), ref.lm.p), `lm after step ${t}`).toBeLessThan(2e-6);
    }
    // The reference moved the parameters far more than the tolerance.
    expect(maxRelError(Float32Array.from(init.retriever), ref.retriever.p)).toBeGreaterThan(1e-3);
    expect(opt.stepCount).toBe(6);
    opt.dispose();
    tf.dispose([retriever, lm]);
  });

  it("leaves a parameter without a gradient untouched (no weight decay either) and keeps the tensor count constant", () => {
    const a = tf.variable(tf.ones([4]));
    const b = tf.variable(tf.ones([2]));
    const opt = new AdamW([a, b], { lr: 0.1, weightDecay: 0.5 });
    const g = tf.ones([4]);
    opt.step({ [a.name]: g });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) opt.step({ [a.name]: g });
    expect(tf.memory().numTensors).toBe(before);
    expect([...b.dataSync()]).toEqual([1, 1]);
    expect(a.dataSync()[0]).toBeLessThan(1);
    opt.dispose();
    tf.dispose([a, b, g]);
  });

  it("exports and imports its state so that a restored optimizer continues bit for bit", () => {
    const make = () => tf.variable(tf.tensor(values(6, "w"), [2, 3]));
    const w1 = make();
    const opt1 = new AdamW([{ name: "all", params: [w1], lr: 0.05 }]);
    const grad = (t: number, w: tf.Variable) => ({ [w.name]: tf.tensor(values(6, `g${t}`), [2, 3]) });
    for (let t = 1; t <= 3; t++) opt1.step(grad(t, w1));
    const exported = opt1.exportState();
    expect(Object.keys(exported.tensors)).toEqual(["adamw/all/0/m", "adamw/all/0/v"]);
    expect(exported.state.step).toBe(3);
    const w2 = tf.variable(w1.clone());
    const opt2 = new AdamW([{ name: "all", params: [w2], lr: 0.05 }]);
    opt2.importState(exported);
    expect(opt2.stepCount).toBe(3);
    for (let t = 4; t <= 6; t++) {
      opt1.step(grad(t, w1));
      opt2.step(grad(t, w2));
    }
    expect(Buffer.from(w2.dataSync().buffer).equals(Buffer.from(w1.dataSync().buffer))).toBe(true);
    opt1.dispose();
    opt2.dispose();
    tf.dispose([w1, w2]);
  });

  it("names what is wrong: unknown gradients, shapes, groups, state", () => {
    const w = tf.variable(tf.zeros([2, 2]));
    const other = tf.variable(tf.zeros([1]));
    const opt = new AdamW([{ name: "retriever", params: [w] }]);
    expect(() => opt.step({ [other.name]: tf.zeros([1]) })).toThrow(
      /gradient ".*" is for a variable this optimizer does not update/,
    );
    expect(() => opt.step({ [w.name]: tf.zeros([4]) })).toThrow(/has shape \[4\], the variable has \[2, 2\]/);
    expect(() => new AdamW([])).toThrow(/non-empty array/);
    expect(() => new AdamW([w], { betas: [1, 0.9] })).toThrow(/options\.betas\[0\] must be in \[0, 1\)/);
    expect(() => new AdamW([{ params: [w] }, { params: [w] }])).toThrow(/already in group "group0"/);
    const state = opt.exportState();
    const wrongGroup = new AdamW([{ name: "lm", params: [other] }]);
    expect(() => wrongGroup.importState(state)).toThrow(/state\.groups\[0\] .* this optimizer's group 0 is "lm"/);
    const badShape = new AdamW([{ name: "retriever", params: [tf.variable(tf.zeros([4]))] }]);
    expect(() => badShape.importState(state)).toThrow(
      /tensor "adamw\/retriever\/0\/m" has shape \[2, 2\], parameter 0 of group "retriever" has \[4\]/,
    );
    opt.dispose();
    expect(() => opt.step({})).toThrow(/has been disposed/);
  });
});
