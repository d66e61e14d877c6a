import { canKeepInJsMemory, guardDataMoves, isInJsMemory, moveToJsMemory } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { type CheckpointData, type JsonObject, requireTensorRecord, type TensorRecord } from "../run/checkpointData.js";
import type { LrSchedule } from "./lrSchedule.js";

/** Parameters that share a learning rate and weight decay (e.g. the retriever vs the language model). */
export interface ParamGroup {
  /** Names the group in checkpoints and messages; unique. Default `group${i}`. */
  name?: string;
  params: tf.Variable[];
  /** Peak learning rate; default the optimizer's `lr`. */
  lr?: number;
  /** Decoupled weight decay; default the optimizer's `weightDecay`. */
  weightDecay?: number;
}

export interface AdamWOptions {
  /** Default 1e-3 (PyTorch's default). */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 0.01 (PyTorch's AdamW default). */
  weightDecay?: number;
  /** Multiplies every group's lr by `schedule.factor(t)` at update t. */
  schedule?: Pick<LrSchedule, "factor">;
  /**
   * Where the moments m and v live. "host" (default): JavaScript Float32Arrays, the update computed
   * in JavaScript one parameter at a time — the wasm heap (4 GiB at most) then holds no optimizer
   * state, which for LoRA r 256 on a 135M–0.5B backbone is 1.2–2.1 GiB. "device": tf variables, the
   * update in tf ops. Both give the same float32 updates bit for bit (each operation rounded to
   * float32 as the tf ops round it).
   */
  state?: "host" | "device";
}

type Moments = { kind: "host"; m: Float32Array; v: Float32Array } | { kind: "device"; m: tf.Variable; v: tf.Variable };

interface Slot {
  param: tf.Variable;
  moments: Moments;
  /** Updates this parameter has received (PyTorch's per-parameter `state["step"]`): its bias correction. */
  step: number;
}

interface Group {
  name: string;
  lr: number;
  weightDecay: number;
  slots: Slot[];
}

function requireNonNegative(op: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Error(`${op}: ${name} must be a finite number ≥ 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Adam with decoupled weight decay, update for update as PyTorch's `torch.optim.AdamW`
 * (amsgrad off, single-tensor path): at update t with lr = group lr × schedule(t), for a parameter
 * that has now received its k-th gradient,
 *   p ← p · (1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
 *   p ← p − (lr / (1 − β1ᵏ)) · m / (√v / √(1 − β2ᵏ) + eps).
 * As in PyTorch, the schedule follows the optimizer's update count t and the bias correction each
 * parameter's own count k: a parameter that first receives a gradient late starts its correction at 1.
 * Moments are created up front (in JavaScript memory by default, see `AdamWOptions.state`), so an
 * update allocates nothing that outlives it and `tf.memory().numTensors` stays constant across steps.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly groups: Group[];
  private readonly defaults: { lr: number; weightDecay: number };
  private readonly byName = new Map<string, { group: Group; slot: Slot }>();
  private readonly schedule: Pick<LrSchedule, "factor"> | undefined;
  private t = 0;
  private disposed = false;

  constructor(params: tf.Variable[] | ParamGroup[], options: AdamWOptions = {}) {
    const op = "AdamW";
    if (!Array.isArray(params) || params.length === 0) {
      throw new Error(`${op}: params must be a non-empty array of tf.Variable or of parameter groups`);
    }
    const lr = requireNonNegative(op, "options.lr", options.lr ?? 1e-3);
    const [beta1, beta2] = options.betas ?? [0.9, 0.999];
    for (const [name, b] of [
      ["options.betas[0]", beta1],
      ["options.betas[1]", beta2],
    ] as const) {
      if (typeof b !== "number" || !(b >= 0 && b < 1))
        throw new Error(`${op}: ${name} must be in [0, 1), got ${String(b)}`);
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = requireNonNegative(op, "options.eps", options.eps ?? 1e-8);
    const weightDecay = requireNonNegative(op, "options.weightDecay", options.weightDecay ?? 0.01);
    if (options.schedule !== undefined && typeof options.schedule?.factor !== "function") {
      throw new Error(`${op}: options.schedule must have a factor(step) method (an LrSchedule)`);
    }
    this.schedule = options.schedule;
    this.defaults = { lr, weightDecay };
    const placement = options.state ?? "host";
    if (placement !== "host" && placement !== "device") {
      throw new Error(`${op}: options.state must be "host" or "device", got ${JSON.stringify(options.state)}`);
    }
    const specs: ParamGroup[] = params.every((p) => p instanceof tf.Variable)
      ? [{ params: params as tf.Variable[] }]
      : (params as ParamGroup[]);
    const names = new Set<string>();
    const groups: Group[] = [];
    try {
      this.buildGroups(specs, placement, names, groups);
    } catch (error) {
      // A failed constructor (a bad parameter, a full heap) must not leak the moments made so far.
      for (const { slot } of this.byName.values()) {
        if (slot.moments.kind === "device") tf.dispose([slot.moments.m, slot.moments.v]);
      }
      throw error;
    }
    this.groups = groups;
  }

  private buildGroups(specs: ParamGroup[], placement: "host" | "device", names: Set<string>, out: Group[]): void {
    const op = "AdamW";
    const lr = this.defaults.lr;
    const weightDecay = this.defaults.weightDecay;
    specs.forEach((spec, gi) => {
      const where = `${op}: params[${gi}]`;
      if (spec === null || typeof spec !== "object" || !Array.isArray(spec.params)) {
        throw new Error(`${where} must be a parameter group {params: tf.Variable[], lr?, weightDecay?}`);
      }
      const name = spec.name ?? `group${gi}`;
      if (typeof name !== "string" || name === "" || names.has(name)) {
        throw new Error(`${where}.name must be a unique non-empty string, got ${JSON.stringify(name)}`);
      }
      names.add(name);
      const group: Group = {
        name,
        lr: requireNonNegative(op, `group "${name}" lr`, spec.lr ?? lr),
        weightDecay: requireNonNegative(op, `group "${name}" weightDecay`, spec.weightDecay ?? weightDecay),
        slots: [],
      };
      spec.params.forEach((p, pi) => {
        if (!(p instanceof tf.Variable)) throw new Error(`${where}.params[${pi}] must be a tf.Variable`);
        if (p.isDisposed) throw new Error(`${where}.params[${pi}] (variable ${p.name}) has been disposed`);
        if (p.dtype !== "float32")
          throw new Error(`${where}.params[${pi}] (variable ${p.name}) must be float32, got ${p.dtype}`);
        const seen = this.byName.get(p.name);
        if (seen)
          throw new Error(`${where}.params[${pi}]: variable ${p.name} is already in group "${seen.group.name}"`);
        const slot: Slot = { param: p, moments: zeroMoments(p, placement), step: 0 };
        group.slots.push(slot);
        this.byName.set(p.name, { group, slot });
      });
      out.push(group);
    });
  }

  /** Updates taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /** The learning rate each group will use at the next update (schedule applied). */
  learningRates(): Record<string, number> {
    const factor = this.schedule ? this.schedule.factor(this.t + 1) : 1;
    return Object.fromEntries(this.groups.map((g) => [g.name, g.lr * factor]));
  }

  private requireLive(op: string): void {
    if (this.disposed) throw new Error(`AdamW.${op}: the optimizer has been disposed`);
  }

  /**
   * One update from gradients keyed by variable name (what `tf.variableGrads` returns). A
   * parameter without a gradient is left alone, weight decay included, as in PyTorch. A gradient
   * for a variable the optimizer does not hold is an error (pass `varList` to `tf.variableGrads`).
   * The gradients are not disposed.
   *
   * Where the parameter's new value lives: in the active backend, as tfjs's assign leaves it —
   * except for a parameter kept in JavaScript memory (its data in tfjs's cpu backend while wasm is
   * the active backend: the LoRA adapters of a model with offloaded layers, @revela/language-model's
   * `CausalLM.adaptersInJsMemory`), which goes back to the cpu backend so that updates do not fill
   * the wasm heap. A parameter held by any other inactive backend is not moved back. On a full heap
   * a parameter kept in JavaScript memory is brought in without losing its values: the step throws
   * WasmHeapExhaustedError and the parameter reads as before.
   */
  step(grads: tf.NamedTensorMap): void {
    this.requireLive("step");
    if (grads === null || typeof grads !== "object") throw new Error("AdamW.step: grads must be a {name: tensor} map");
    for (const [name, g] of Object.entries(grads)) {
      const entry = this.byName.get(name);
      if (!entry) {
        throw new Error(`AdamW.step: gradient "${name}" is for a variable this optimizer does not update`);
      }
      if (!(g instanceof tf.Tensor) || g.isDisposed)
        throw new Error(`AdamW.step: gradient "${name}" must be a live tf.Tensor`);
      const p = entry.slot.param;
      if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(
          `AdamW.step: gradient "${name}" has shape [${g.shape.join(", ")}], the variable has [${p.shape.join(", ")}]`,
        );
      }
    }
    this.t++;
    const factor = this.schedule ? this.schedule.factor(this.t) : 1;
    for (const group of this.groups) {
      const lr = group.lr * factor;
      for (const slot of group.slots) {
        const g = grads[slot.param.name];
        if (g === undefined) continue;
        slot.step++;
        const k = slot.step;
        const coefficients: UpdateCoefficients = {
          beta1: this.beta1,
          beta2: this.beta2,
          eps: this.eps,
          stepSize: lr / (1 - this.beta1 ** k),
          bias2Sqrt: Math.sqrt(1 - this.beta2 ** k),
          decay: 1 - lr * group.weightDecay,
        };
        if (slot.moments.kind === "host") updateOnHost(slot.param, g, slot.moments, coefficients);
        else updateOnDevice(slot.param, g, slot.moments, coefficients);
      }
    }
  }

  /**
   * The optimizer's state as checkpoint data: moments as `adamw/<group>/<i>/m|v` (named by group
   * and position, which are stable across processes, unlike tfjs variable names) and the update
   * count plus settings in `state`.
   */
  exportState(): CheckpointData {
    this.requireLive("exportState");
    const tensors: Record<string, TensorRecord> = {};
    for (const group of this.groups) {
      group.slots.forEach((slot, i) => {
        for (const which of ["m", "v"] as const) {
          const moment = slot.moments[which];
          tensors[`adamw/${group.name}/${i}/${which}`] = {
            shape: [...slot.param.shape],
            // slice(): the export must not change when the optimizer updates later.
            data: (moment instanceof Float32Array ? moment : (moment.dataSync() as Float32Array)).slice(),
          };
        }
      });
    }
    const state: JsonObject = {
      step: this.t,
      betas: [this.beta1, this.beta2],
      eps: this.eps,
      groups: this.groups.map((g) => ({
        name: g.name,
        lr: g.lr,
        weightDecay: g.weightDecay,
        params: g.slots.length,
        steps: g.slots.map((slot) => slot.step),
      })),
    };
    return { tensors, state };
  }

  /**
   * Restores `exportState()` output; groups, parameter counts and shapes must match this optimizer.
   * A checkpoint written before per-parameter counts (no `groups[i].steps`) gives every parameter the
   * optimizer's update count, which is what its bias correction used then.
   */
  importState(data: CheckpointData): void {
    this.requireLive("importState");
    const op = "AdamW.importState";
    if (data === null || typeof data !== "object" || data.tensors === null || typeof data.tensors !== "object") {
      throw new Error(`${op}: data must be {tensors, state} as exportState returns`);
    }
    const step = data.state?.step;
    if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
      throw new Error(`${op}: state.step must be a non-negative integer, got ${JSON.stringify(step)}`);
    }
    const savedGroups = data.state.groups;
    if (!Array.isArray(savedGroups) || savedGroups.length !== this.groups.length) {
      throw new Error(
        `${op}: state.groups must list ${this.groups.length} groups (${this.groups.map((g) => g.name).join(", ")}), got ${JSON.stringify(savedGroups)}`,
      );
    }
    const staged: Array<[Slot, "m" | "v", TensorRecord]> = [];
    const stagedSteps: Array<[Slot, number]> = [];
    this.groups.forEach((group, gi) => {
      const saved = savedGroups[gi] as { name?: unknown; params?: unknown; steps?: unknown } | null;
      if (saved?.name !== group.name || saved.params !== group.slots.length) {
        throw new Error(
          `${op}: state.groups[${gi}] is ${JSON.stringify(saved)}, this optimizer's group ${gi} is "${group.name}" with ${group.slots.length} params`,
        );
      }
      const steps = saved.steps ?? group.slots.map(() => step);
      if (
        !Array.isArray(steps) ||
        steps.length !== group.slots.length ||
        !steps.every((k) => Number.isInteger(k) && k >= 0 && k <= step)
      ) {
        throw new Error(
          `${op}: state.groups[${gi}].steps must list ${group.slots.length} integers in [0, ${step}] (state.step), got ${JSON.stringify(saved.steps)}`,
        );
      }
      group.slots.forEach((slot, i) => {
        stagedSteps.push([slot, steps[i] as number]);
        for (const which of ["m", "v"] as const) {
          const name = `adamw/${group.name}/${i}/${which}`;
          const record = requireTensorRecord(data.tensors[name], `${op}: tensor "${name}"`);
          if (
            record.shape.length !== slot.param.shape.length ||
            record.shape.some((d, k) => d !== slot.param.shape[k])
          ) {
            throw new Error(
              `${op}: tensor "${name}" has shape [${record.shape.join(", ")}], parameter ${i} of group "${group.name}" has [${slot.param.shape.join(", ")}]`,
            );
          }
          staged.push([slot, which, record]);
        }
      });
    });
    // Everything checked before anything is assigned: a bad checkpoint leaves the optimizer as it was.
    for (const [slot, which, record] of staged) {
      const moment = slot.moments[which];
      if (moment instanceof Float32Array) moment.set(record.data);
      else tf.tidy(() => moment.assign(tf.tensor(record.data, record.shape, "float32")));
    }
    for (const [slot, k] of stagedSteps) slot.step = k;
    this.t = step;
  }

  /** Frees the moments (not the parameters). */
  dispose(): void {
    if (this.disposed) return;
    for (const group of this.groups) {
      for (const slot of group.slots) if (slot.moments.kind === "device") tf.dispose([slot.moments.m, slot.moments.v]);
    }
    this.disposed = true;
  }
}

function zeroMoments(p: tf.Variable, where: "host" | "device"): Moments {
  if (where === "host") return { kind: "host", m: new Float32Array(p.size), v: new Float32Array(p.size) };
  // tidy frees the zeros; the variable keeps the data alive.
  const m = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
  try {
    return { kind: "device", m, v: tf.tidy(() => tf.variable(tf.zerosLike(p), false)) };
  } catch (error) {
    m.dispose();
    throw error;
  }
}

/** One parameter's update: lr / (1 − β1ᵏ), √(1 − β2ᵏ) and 1 − lr·wd at its own count k. */
interface UpdateCoefficients {
  beta1: number;
  beta2: number;
  eps: number;
  stepSize: number;
  bias2Sqrt: number;
  decay: number;
}

function updateOnDevice(
  param: tf.Variable,
  g: tf.Tensor,
  moments: { m: tf.Variable; v: tf.Variable },
  c: UpdateCoefficients,
): void {
  const { m, v } = moments;
  const outside = canKeepInJsMemory() && isInJsMemory(param);
  // The kernels below bring it into the heap with engine.moveData; tfjs's own frees its values
  // before a full heap makes it fail, the guarded one keeps them.
  if (outside) guardDataMoves();
  tf.tidy(() => {
    const g32 = g.dtype === "float32" ? g : tf.cast(g, "float32");
    const m1 = tf.add(tf.mul(m, c.beta1), tf.mul(g32, 1 - c.beta1));
    const v1 = tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g32), 1 - c.beta2));
    const decayed = c.decay === 1 ? param : tf.mul(param, c.decay);
    const denom = tf.add(tf.div(tf.sqrt(v1), c.bias2Sqrt), c.eps);
    m.assign(m1);
    v.assign(v1);
    assignWhereItWas(param, outside, () => tf.sub(decayed, tf.mul(tf.div(m1, denom), c.stepSize)));
  });
}

/**
 * The same update in JavaScript: the parameter and its gradient are read off the device, the
 * moments updated in place, and the new parameter written back — one parameter's copy at a time.
 * Every operation is rounded to float32 (Math.fround) where the tf ops above round, with the
 * coefficients rounded as tf rounds a scalar operand, so both paths give the same bits (float64
 * then float32 rounding equals float32 rounding for +, −, ×, ÷ and √).
 */
function updateOnHost(
  param: tf.Variable,
  g: tf.Tensor,
  moments: { m: Float32Array; v: Float32Array },
  c: UpdateCoefficients,
): void {
  const f = Math.fround;
  const raw = g.dataSync();
  const grad = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>);
  // On the cpu backend dataSync hands out the tensor's own storage: read it, never write it.
  const p = param.dataSync() as Float32Array;
  const out = new Float32Array(p.length);
  const { m, v } = moments;
  const b1 = f(c.beta1);
  const b1c = f(1 - c.beta1);
  const b2 = f(c.beta2);
  const b2c = f(1 - c.beta2);
  const eps = f(c.eps);
  const bias2Sqrt = f(c.bias2Sqrt);
  const stepSize = f(c.stepSize);
  const decay = f(c.decay);
  const decays = c.decay !== 1;
  for (let i = 0; i < out.length; i++) {
    const gi = grad[i] as number;
    const m1 = f(f((m[i] as number) * b1) + f(gi * b1c));
    const v1 = f(f((v[i] as number) * b2) + f(f(gi * gi) * b2c));
    m[i] = m1;
    v[i] = v1;
    const pi = p[i] as number;
    const decayed = decays ? f(pi * decay) : pi;
    const denom = f(f(f(Math.sqrt(v1)) / bias2Sqrt) + eps);
    out[i] = decayed - f(f(m1 / denom) * stepSize);
  }
  assignWhereItWas(param, canKeepInJsMemory() && isInJsMemory(param), () => tf.tensor(out, param.shape, "float32"));
}

/**
 * Assigns `value()` to `param`; a parameter kept in JavaScript memory (`outside`: the LoRA
 * adapters of a model with offloaded layers, see @revela/language-model's
 * `CausalLM.adaptersInJsMemory`) goes back there, else it would come back into the wasm heap with
 * every update. Any other parameter stays in the active backend, where the assign put it.
 */
function assignWhereItWas(param: tf.Variable, outside: boolean, value: () => tf.Tensor): void {
  // assign() references its argument: inside the tidy, the new value outlives it as the variable's.
  tf.tidy(() => param.assign(value()));
  if (outside) moveToJsMemory(param);
}
