import { frugalVariableGrads } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import type { AdamW } from "../optim/adamW.js";
import { clipGradNorm } from "../optim/clipGradNorm.js";
import { GradientAccumulator } from "../optim/gradientAccumulator.js";
import { type CheckpointData, requireTensorRecord, type TensorRecord } from "./checkpointData.js";
import type { NamedVariables } from "./namedTrainables.js";

export interface StepRunnerOptions {
  /** Updates every variable of `groups`; it must hold exactly those (the runner differentiates them). */
  optimizer: AdamW;
  /** The trainable variables by group (a gradient norm is reported per group), each under its stable name. */
  groups: Record<string, NamedVariables>;
  /** Global gradient-norm clipping of each update; 0 = off. */
  maxGradNorm: number;
  /** Batches whose mean gradient makes one update (default 1). */
  accumulationSteps?: number;
  /** Names the trainer in error messages. */
  where: string;
}

/** What one batch did. */
export interface StepOutcome {
  loss: number;
  /** The batch's global gradient norm, before clipping. */
  gradNorm: number;
  /** The batch's gradient norm per group (0 for a group with no variables). */
  groupGradNorms: Record<string, number>;
  /** The norm, before clipping, of the gradient this batch's update applied; NaN when the batch only accumulated or was skipped. */
  updateGradNorm: number;
  /** 1 when the loss or the gradient norm was not finite: the batch changed nothing. */
  skipped: 0 | 1;
  /** Optimizer updates so far. */
  updates: number;
}

/**
 * The training step every trainer shares: gradients of the trainer's loss → one non-finite policy →
 * (accumulation) → global clipping → AdamW. The policy: a batch whose loss or gradient norm is NaN or
 * ±Inf is skipped — no update, nothing accumulated, `skipped` 1 — so one overflowing batch neither
 * poisons the weights nor the moments; the caller (runTraining) decides whether to stop on it.
 * Trainers supply only the loss; the metrics they add (tokens/s, W statistics) are their own.
 *
 * With accumulationSteps k > 1 the gradients of k finite batches are summed off the device, and
 * their mean is clipped and applied on the k-th; resume mid-accumulation restores those sums
 * (exportState / importState), so a resumed run is bit-identical to an uninterrupted one.
 */
export class StepRunner {
  readonly accumulationSteps: number;
  private readonly all: NamedVariables;
  private readonly accumulator = new GradientAccumulator();
  private skippedCount = 0;

  constructor(readonly options: StepRunnerOptions) {
    const o = options;
    const where = `${o.where} (StepRunner)`;
    if (o.groups === null || typeof o.groups !== "object")
      throw new Error(`${where}: groups must be a {group: {name: variable}} map`);
    if (typeof o.maxGradNorm !== "number" || !Number.isFinite(o.maxGradNorm) || o.maxGradNorm < 0)
      throw new Error(
        `${where}: maxGradNorm must be a finite number ≥ 0 (0 = no clipping), got ${String(o.maxGradNorm)}`,
      );
    this.accumulationSteps = o.accumulationSteps ?? 1;
    if (!Number.isInteger(this.accumulationSteps) || this.accumulationSteps < 1)
      throw new Error(`${where}: accumulationSteps must be an integer ≥ 1, got ${String(o.accumulationSteps)}`);
    this.all = {};
    for (const [group, vars] of Object.entries(o.groups)) {
      for (const [name, v] of Object.entries(vars)) {
        if (!(v instanceof tf.Variable)) throw new Error(`${where}: groups.${group}["${name}"] is not a tf.Variable`);
        if (name in this.all) throw new Error(`${where}: variable "${name}" is in two groups`);
        this.all[name] = v;
      }
    }
    if (Object.keys(this.all).length === 0) throw new Error(`${where}: there are no variables to train`);
  }

  /** Batches skipped by the non-finite policy since this runner was made (not checkpointed). */
  get skipped(): number {
    return this.skippedCount;
  }

  /** Batches added towards the next update (0 right after an update). */
  get pending(): number {
    return this.accumulator.count;
  }

  /**
   * One batch: differentiates `loss` (run under frugalVariableGrads: tensors it creates are freed,
   * except those it `tf.keep`s) and, on every `accumulationSteps`-th finite batch, updates the weights.
   */
  run(loss: () => tf.Scalar): StepOutcome {
    const o = this.options;
    const { value, grads } = frugalVariableGrads(loss, Object.values(this.all));
    let lossValue: number;
    let gradNorm: number;
    const groupGradNorms: Record<string, number> = {};
    let updateGradNorm = Number.NaN;
    let finite: boolean;
    try {
      lossValue = value.dataSync()[0] as number;
      let squares = 0;
      for (const [group, vars] of Object.entries(o.groups)) {
        const norm = globalNorm(grads, vars);
        groupGradNorms[group] = norm;
        squares += norm * norm;
      }
      // The groups partition the variables: their norms give the global one without another pass.
      gradNorm = Math.sqrt(squares);
      finite = Number.isFinite(lossValue) && Number.isFinite(gradNorm);
      if (finite && this.accumulationSteps === 1) {
        // Nothing to sum: clip in place and apply, as PyTorch's clip_grad_norm_ + step.
        updateGradNorm = o.maxGradNorm > 0 ? clipGradNorm(grads, o.maxGradNorm) : gradNorm;
        o.optimizer.step(grads);
      } else if (finite) this.accumulator.add(grads);
    } finally {
      tf.dispose([value, grads]);
    }
    if (this.accumulationSteps > 1 && this.accumulator.count >= this.accumulationSteps) {
      const mean = this.accumulator.average();
      this.accumulator.reset();
      try {
        updateGradNorm = o.maxGradNorm > 0 ? clipGradNorm(mean, o.maxGradNorm) : globalNorm(mean, this.all);
        // Finite gradients can still sum to an infinite norm: the same policy holds for the update.
        if (Number.isFinite(updateGradNorm)) o.optimizer.step(mean);
      } finally {
        tf.dispose(mean);
      }
    }
    if (!finite) this.skippedCount++;
    return {
      loss: lossValue,
      gradNorm,
      groupGradNorms,
      updateGradNorm,
      skipped: finite ? 0 : 1,
      updates: o.optimizer.stepCount,
    };
  }

  /**
   * Mid-accumulation, the gradient sums so far under `accumulator/<stable name>` and their count
   * (`accumulated`); empty after an update. Merge into the trainer's checkpoint.
   */
  exportState(): CheckpointData {
    const sums = this.accumulator.exportSums();
    const tensors: Record<string, TensorRecord> = {};
    // The sums are keyed by tfjs variable names (a process-wide counter): store them under stable ones.
    for (const [stable, v] of Object.entries(this.all)) {
      const record = sums.tensors[v.name];
      if (record) tensors[`accumulator/${stable}`] = record;
    }
    return { tensors, state: { accumulated: sums.count } };
  }

  /** Restores `exportState` output (a checkpoint without it: nothing accumulated). */
  importState(data: CheckpointData, where: string): void {
    const accumulated = data.state.accumulated ?? 0;
    if (
      !Number.isInteger(accumulated) ||
      (accumulated as number) < 0 ||
      (accumulated as number) >= this.accumulationSteps
    )
      throw new Error(
        `${where}: state.accumulated must be an integer in [0, ${this.accumulationSteps}) (accumulationSteps), got ${JSON.stringify(accumulated)}`,
      );
    const sums: Record<string, TensorRecord> = {};
    if ((accumulated as number) > 0) {
      for (const [stable, v] of Object.entries(this.all)) {
        const record = data.tensors[`accumulator/${stable}`];
        if (record) sums[v.name] = requireTensorRecord(record, `${where}: tensor "accumulator/${stable}"`);
      }
    }
    this.accumulator.importSums({ count: accumulated as number, tensors: sums });
  }

  dispose(): void {
    this.accumulator.dispose();
  }
}

/** L2 norm of the gradients of `vars` together (0 when none has a gradient). */
function globalNorm(grads: tf.NamedTensorMap, vars: NamedVariables): number {
  const gs = Object.values(vars)
    .map((v) => grads[v.name])
    .filter((g): g is tf.Tensor => g !== undefined);
  if (!gs.length) return 0;
  return tf.tidy(() => tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g))))).dataSync()[0] as number);
}
