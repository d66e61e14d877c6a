import { type ChoiceOption, checkOption, type NumberOption } from "@revela/kernels";

export type LrScheduleKind = "linear" | "cosine" | "constant";
export type WarmupShape = "linear" | "log";
export const WARMUP_SHAPES: readonly WarmupShape[] = ["linear", "log"];

/** The schedule's warm-up settings, declared once: LrSchedule's defaults and checks, and an application's flags. */
export const LR_SCHEDULE_OPTIONS: { warmupSteps: NumberOption; warmup: ChoiceOption<WarmupShape> } = {
  warmupSteps: {
    kind: "number",
    integer: true,
    min: 0,
    default: 0,
    doc: "optimizer updates of warm-up to the peak lr",
  },
  warmup: {
    kind: "choice",
    choices: WARMUP_SHAPES,
    default: "linear",
    doc: "warm-up shape: linear, or log (DeepSpeed's, the official recipe's)",
  },
};

export interface LrScheduleOptions {
  kind: LrScheduleKind;
  /** Steps of warm-up to the peak lr. Default 0. */
  warmupSteps?: number;
  /**
   * Shape of the warm-up. `linear` (default): t / warmupSteps. `log`: ln t / ln warmupSteps —
   * DeepSpeed's WarmupDecayLR default (warmup_type "log"), which the official Revela recipe uses
   * through ds_zero3_config.json; it starts at 0 and rises steeply (half the peak by update √W).
   */
  warmup?: WarmupShape;
  /** Step at which the decay reaches the floor (linear and cosine; required for them). */
  totalSteps?: number;
  /** Final learning rate as a fraction of the peak, in [0, 1]. Default 0. */
  floor?: number;
}

/**
 * Learning-rate multiplier per step (the peak is each parameter group's own lr). Steps count from 1
 * — step t is the t-th optimizer update — so warm-up step t uses t / warmupSteps and the first update
 * is never wasted at lr 0 (as Hugging Face's step-0 convention does) — except with the official
 * recipe's `log` warm-up, whose first factor is ln 1 = 0 as in DeepSpeed. After warm-up, over
 * p = (t − warmupSteps) / (totalSteps − warmupSteps):
 * linear: floor + (1 − floor)(1 − p); cosine: floor + (1 − floor)(1 + cos πp)/2; constant: 1.
 * Past totalSteps the multiplier stays at the floor.
 */
export class LrSchedule {
  readonly kind: LrScheduleKind;
  readonly warmupSteps: number;
  readonly warmup: WarmupShape;
  readonly totalSteps: number;
  readonly floor: number;

  constructor(options: LrScheduleOptions) {
    const op = "LrSchedule";
    if (options === null || typeof options !== "object") throw new Error(`${op}: options must be an object`);
    if (!["linear", "cosine", "constant"].includes(options.kind)) {
      throw new Error(
        `${op}: options.kind must be "linear", "cosine" or "constant", got ${JSON.stringify(options.kind)}`,
      );
    }
    const spec = LR_SCHEDULE_OPTIONS;
    const warmupSteps = checkOption(
      spec.warmupSteps,
      options.warmupSteps ?? spec.warmupSteps.default,
      `${op}: options.warmupSteps`,
    );
    const warmup = checkOption(spec.warmup, options.warmup ?? spec.warmup.default, `${op}: options.warmup`);
    if (warmup === "log" && warmupSteps < 2) {
      throw new Error(`${op}: a "log" warm-up needs warmupSteps ≥ 2 (ln 1 = 0), got ${warmupSteps}`);
    }
    const floor = options.floor ?? 0;
    if (typeof floor !== "number" || !(floor >= 0 && floor <= 1)) {
      throw new Error(
        `${op}: options.floor must be a number in [0, 1] (a fraction of the peak lr), got ${String(floor)}`,
      );
    }
    let totalSteps = options.totalSteps ?? warmupSteps;
    if (options.kind !== "constant") {
      totalSteps = options.totalSteps as number;
      if (!Number.isInteger(totalSteps) || totalSteps <= warmupSteps) {
        throw new Error(
          `${op}: options.totalSteps must be an integer greater than warmupSteps (${warmupSteps}) for "${options.kind}" decay, got ${String(options.totalSteps)}`,
        );
      }
    }
    this.kind = options.kind;
    this.warmupSteps = warmupSteps;
    this.warmup = warmup;
    this.totalSteps = totalSteps;
    this.floor = floor;
  }

  /** Multiplier for update number `step` (1-based). */
  factor(step: number): number {
    if (!Number.isInteger(step) || step < 1) {
      throw new Error(`LrSchedule.factor: step must be an integer ≥ 1 (updates count from 1), got ${String(step)}`);
    }
    if (step <= this.warmupSteps) {
      // DeepSpeed's log warm-up at its iteration t − 1: ln(t) / ln(W). Its first update is at lr 0;
      // DeepSpeed versions differ by one iteration here, immaterial over hundreds of updates.
      return this.warmup === "log" ? Math.log(step) / Math.log(this.warmupSteps) : step / this.warmupSteps;
    }
    if (this.kind === "constant") return 1;
    const p = Math.min(1, (step - this.warmupSteps) / (this.totalSteps - this.warmupSteps));
    const shape = this.kind === "linear" ? 1 - p : (1 + Math.cos(Math.PI * p)) / 2;
    return this.floor + (1 - this.floor) * shape;
  }
}
