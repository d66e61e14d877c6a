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

const bits = (a: ArrayLike<number>) => Buffer.from(Float32Array.from(a).buffer);

describe("AdamW", () => {
  it.each(["host", "device"] as const)(
    "matches a float64 reference of PyTorch's AdamW over 6 steps, two groups, warm-up + cosine schedule (state on the %s)",
    (state) => {
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
        { weightDecay: 0.01, schedule, state },
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
    },
  );

  it.each(["host", "device"] as const)(
    "leaves a parameter without a gradient untouched (no weight decay either) and keeps the tensor count constant (state on the %s)",
    (state) => {
      const a = tf.variable(tf.ones([4]));
      const b = tf.variable(tf.ones([2]));
      const opt = new AdamW([a, b], { lr: 0.1, weightDecay: 0.5, state });
      const g = tf.ones([4]);
      opt.step({ [a.name]: g });
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) opt.step({ [a.name]: g });
      expect(tf.memory().numTensors).toBe(before);
      expect([...b.dataSync()]).toEqual([1, 1]);
      expect(a.dataSync()[0]).toBeLessThan(1);
      opt.dispose();
      tf.dispose([a, b, g]);
    },
  );

  it("keeps its moments off the device by default: constructing and stepping allocates no lasting tensor", () => {
    const w = tf.variable(tf.tensor(values(12, "w"), [3, 4]));
    const w2 = tf.variable(tf.tensor(values(12, "w"), [3, 4]));
    const g = tf.tensor(values(12, "g"), [3, 4]);
    const before = tf.memory().numTensors;
    const host = new AdamW([w], { lr: 0.1 });
    host.step({ [w.name]: g });
    expect(tf.memory().numTensors).toBe(before);
    const device = new AdamW([w2], { lr: 0.1, state: "device" });
    // Two moment variables on the device.
    expect(tf.memory().numTensors).toBe(before + 2);
    host.dispose();
    device.dispose();
    tf.dispose([w, w2, g]);
  });

  it("gives bit-identical updates with its moments on the host and on the device: groups, weight decay, schedule, a parameter that starts late", () => {
    const schedule = new LrSchedule({ kind: "cosine", warmupSteps: 3, totalSteps: 8, floor: 0.1 });
    const make = () => ({
      a: tf.variable(tf.tensor(values(64, "a", 2), [8, 8])),
      b: tf.variable(tf.tensor(values(10, "b"), [10])),
      c: tf.variable(tf.tensor(values(7, "c", 0.01), [7])),
    });
    const host = make();
    const device = make();
    const optimizer = (v: ReturnType<typeof make>, state: "host" | "device") =>
      new AdamW(
        [
          { name: "retriever", params: [v.a, v.b], lr: 3e-2, weightDecay: 0.1 },
          { name: "lm", params: [v.c], lr: 1e-3, weightDecay: 0 },
        ],
        { schedule, state, eps: 1e-6 },
      );
    const optHost = optimizer(host, "host");
    const optDevice = optimizer(device, "device");
    for (let t = 1; t <= 8; t++) {
      // Gradients from 1e-4 to 1e3 so that eps, rounding and large moments all matter; b first gets one at t 4.
      const scale = 10 ** (t - 5);
      const grads = (v: ReturnType<typeof make>) => ({
        [v.a.name]: tf.tensor(values(64, `ga${t}`, scale), [8, 8]),
        ...(t >= 4 ? { [v.b.name]: tf.tensor(values(10, `gb${t}`), [10]) } : {}),
        [v.c.name]: tf.tensor(values(7, `gc${t}`, 1 / scale), [7]),
      });
      const gh = grads(host);
      const gd = grads(device);
      optHost.step(gh);
      optDevice.step(gd);
      tf.dispose([...Object.values(gh), ...Object.values(gd)]);
      for (const k of ["a", "b", "c"] as const) {
        expect(bits(host[k].dataSync()).equals(bits(device[k].dataSync())), `${k} after update ${t}`).toBe(true);
      }
    }
    const eh = optHost.exportState();
    const ed = optDevice.exportState();
    for (const name of Object.keys(ed.tensors)) {
      expect(bits(eh.tensors[name]!.data).equals(bits(ed.tensors[name]!.data)), name).toBe(true);
    }
    expect(eh.state).toEqual(ed.state);
    optHost.dispose();
    optDevice.dispose();
    tf.dispose([...Object.values(host), ...Object.values(device)]);
  });

  it.each(["host", "device"] as const)(
    "counts updates per parameter as PyTorch does: a parameter first updated at t 4 gets the bias correction of its own first update (state on the %s)",
    (state) => {
      const early = tf.variable(tf.tensor(values(5, "early"), [5]));
      const late = tf.variable(tf.tensor(values(5, "late"), [5]));
      const lr = 0.01;
      const wd = 0.05;
      const opt = new AdamW([early, late], { lr, weightDecay: wd, state });
      const ref = {
        early: {
          p: [...Float32Array.from(values(5, "early"))],
          m: new Array(5).fill(0),
          v: new Array(5).fill(0),
          k: 0,
        },
        late: { p: [...Float32Array.from(values(5, "late"))], m: new Array(5).fill(0), v: new Array(5).fill(0), k: 0 },
      };
      // What a single global count would give the late parameter at its first update (t 4).
      const globalCount = { p: [...ref.late.p], m: new Array(5).fill(0), v: new Array(5).fill(0) };
      for (let t = 1; t <= 6; t++) {
        const ge = [...Float32Array.from(values(5, `ge${t}`))];
        const gl = [...Float32Array.from(values(5, `gl${t}`))];
        const grads: tf.NamedTensorMap = { [early.name]: tf.tensor(ge) };
        if (t >= 4) grads[late.name] = tf.tensor(gl);
        opt.step(grads);
        tf.dispose(Object.values(grads));
        torchAdamWStep(ref.early.p, ge, ref.early, ++ref.early.k, lr, wd);
        if (t >= 4) torchAdamWStep(ref.late.p, gl, ref.late, ++ref.late.k, lr, wd);
        if (t === 4) torchAdamWStep(globalCount.p, gl, globalCount, 4, lr, wd);
        expect(maxRelError(early.dataSync(), ref.early.p), `early after update ${t}`).toBeLessThan(2e-6);
        expect(maxRelError(late.dataSync(), ref.late.p), `late after update ${t}`).toBeLessThan(2e-6);
        if (t === 4) {
          // The global count's step is 1 − 0.9⁴ ≈ 0.34 of PyTorch's: far outside the tolerance.
          expect(maxRelError(Float32Array.from(globalCount.p), ref.late.p)).toBeGreaterThan(1e-3);
        }
      }
      expect(opt.stepCount).toBe(6);
      const state0 = opt.exportState().state;
      expect((state0.groups as Array<{ steps: number[] }>)[0]!.steps).toEqual([6, 3]);
      opt.dispose();
      tf.dispose([early, late]);
    },
  );

  it("saves the per-parameter counts in checkpoints, and a checkpoint without them gives every parameter the update count", () => {
    const w = tf.variable(tf.tensor(values(4, "w"), [4]));
    const u = tf.variable(tf.tensor(values(4, "u"), [4]));
    const opt = new AdamW([{ name: "all", params: [w, u], lr: 0.05 }]);
    for (let t = 1; t <= 3; t++) {
      const grads: tf.NamedTensorMap = { [w.name]: tf.tensor(values(4, `g${t}`)) };
      if (t === 3) grads[u.name] = tf.tensor(values(4, `h${t}`));
      opt.step(grads);
      tf.dispose(Object.values(grads));
    }
    const saved = opt.exportState();
    const restored = new AdamW([{ name: "all", params: [tf.variable(w.clone()), tf.variable(u.clone())], lr: 0.05 }]);
    restored.importState(saved);
    expect((restored.exportState().state.groups as Array<{ steps: number[] }>)[0]!.steps).toEqual([3, 1]);
    // A checkpoint from before per-parameter counts: its groups have no steps.
    const old = {
      tensors: saved.tensors,
      state: {
        ...saved.state,
        groups: (saved.state.groups as Array<Record<string, unknown>>).map(({ steps: _, ...g }) => g),
      },
    } as typeof saved;
    restored.importState(old);
    expect((restored.exportState().state.groups as Array<{ steps: number[] }>)[0]!.steps).toEqual([3, 3]);
    const bad = {
      ...saved,
      state: { ...saved.state, groups: [{ name: "all", params: 2, steps: [4, 1] }] },
    } as typeof saved;
    expect(() => restored.importState(bad)).toThrow(
      /state\.groups\[0\]\.steps must list 2 integers in \[0, 3\] \(state\.step\), got \[4,1\]/,
    );
    opt.dispose();
    restored.dispose();
    tf.dispose([w, u]);
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
    expect(() => new AdamW([w], { state: "gpu" as "host" })).toThrow(
      /options\.state must be "host" or "device", got "gpu"/,
    );
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
