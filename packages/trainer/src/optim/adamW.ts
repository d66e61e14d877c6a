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
}

interface Slot {
  param: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
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
 * (amsgrad off, single-tensor path): at update t with lr = group lr × schedule(t),
 *   p ← p · (1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps).
 * Moments live on the device as non-trainable variables created up front, so an update allocates
 * nothing that outlives it and `tf.memory().numTensors` stays constant across steps.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly groups: Group[];
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
    const specs: ParamGroup[] = params.every((p) => p instanceof tf.Variable)
      ? [{ params: params as tf.Variable[] }]
      : (params as ParamGroup[]);
    const names = new Set<string>();
    this.groups = specs.map((spec, gi) => {
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
        const slot: Slot = {
          param: p,
          // tidy frees the zeros; the variable keeps the data alive.
          m: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
          v: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
        };
        group.slots.push(slot);
        this.byName.set(p.name, { group, slot });
      });
      return group;
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
    const t = this.t;
    const factor = this.schedule ? this.schedule.factor(t) : 1;
    const { beta1, beta2, eps } = this;
    const bias1 = 1 - beta1 ** t;
    const bias2Sqrt = Math.sqrt(1 - beta2 ** t);
    for (const group of this.groups) {
      const lr = group.lr * factor;
      const stepSize = lr / bias1;
      const decay = 1 - lr * group.weightDecay;
      for (const { param, m, v } of group.slots) {
        const g = grads[param.name];
        if (g === undefined) continue;
        tf.tidy(() => {
          const g32 = g.dtype === "float32" ? g : tf.cast(g, "float32");
          const m1 = tf.add(tf.mul(m, beta1), tf.mul(g32, 1 - beta1));
          const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g32), 1 - beta2));
          const decayed = decay === 1 ? param : tf.mul(param, decay);
          const denom = tf.add(tf.div(tf.sqrt(v1), bias2Sqrt), eps);
          m.assign(m1);
          v.assign(v1);
          param.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), stepSize)));
        });
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
          tensors[`adamw/${group.name}/${i}/${which}`] = {
            shape: [...slot.param.shape],
            data: (slot[which].dataSync() as Float32Array).slice(),
          };
        }
      });
    }
    const state: JsonObject = {
      step: this.t,
      betas: [this.beta1, this.beta2],
      eps: this.eps,
      groups: this.groups.map((g) => ({ name: g.name, lr: g.lr, weightDecay: g.weightDecay, params: g.slots.length })),
    };
    return { tensors, state };
  }

  /** Restores `exportState()` output; groups, parameter counts and shapes must match this optimizer. */
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
    const staged: Array<[tf.Variable, TensorRecord]> = [];
    this.groups.forEach((group, gi) => {
      const saved = savedGroups[gi] as { name?: unknown; params?: unknown } | null;
      if (saved?.name !== group.name || saved.params !== group.slots.length) {
        throw new Error(
          `${op}: state.groups[${gi}] is ${JSON.stringify(saved)}, this optimizer's group ${gi} is "${group.name}" with ${group.slots.length} params`,
        );
      }
      group.slots.forEach((slot, i) => {
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
          staged.push([slot[which], record]);
        }
      });
    });
    // Everything checked before anything is assigned: a bad checkpoint leaves the optimizer as it was.
    for (const [variable, record] of staged) {
      tf.tidy(() => variable.assign(tf.tensor(record.data, record.shape, "float32")));
    }
    this.t = step;
  }

  /** Frees the moments (not the parameters). */
  dispose(): void {
    if (this.disposed) return;
    for (const group of this.groups) for (const slot of group.slots) tf.dispose([slot.m, slot.v]);
    this.disposed = true;
  }
}
