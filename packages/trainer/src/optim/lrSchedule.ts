export type LrScheduleKind = "linear" | "cosine" | "constant";

export interface LrScheduleOptions {
  kind: LrScheduleKind;
  /** Steps of linear warm-up from lr/warmupSteps to the peak lr. Default 0. */
  warmupSteps?: number;
  /** Step at which the decay reaches the floor (linear and cosine; required for them). */
  totalSteps?: number;
  /** Final learning rate as a fraction of the peak, in [0, 1]. Default 0. */
  floor?: number;
}

/**
 * Learning-rate multiplier per step (the peak is each parameter group's own lr). Steps count from 1
 * — step t is the t-th optimizer update — so warm-up step t uses t / warmupSteps and the first update
 * is never wasted at lr 0 (as Hugging Face's step-0 convention does). After warm-up, over
 * p = (t − warmupSteps) / (totalSteps − warmupSteps):
 * linear: floor + (1 − floor)(1 − p); cosine: floor + (1 − floor)(1 + cos πp)/2; constant: 1.
 * Past totalSteps the multiplier stays at the floor.
 */
export class LrSchedule {
  readonly kind: LrScheduleKind;
  readonly warmupSteps: number;
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
    const warmupSteps = options.warmupSteps ?? 0;
    if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
      throw new Error(`${op}: options.warmupSteps must be a non-negative integer, got ${String(warmupSteps)}`);
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
    this.totalSteps = totalSteps;
    this.floor = floor;
  }

  /** Multiplier for update number `step` (1-based). */
  factor(step: number): number {
    if (!Number.isInteger(step) || step < 1) {
      throw new Error(`LrSchedule.factor: step must be an integer ≥ 1 (updates count from 1), got ${String(step)}`);
    }
    if (step <= this.warmupSteps) return step / this.warmupSteps;
    if (this.kind === "constant") return 1;
    const p = Math.min(1, (step - this.warmupSteps) / (this.totalSteps - this.warmupSteps));
    const shape = this.kind === "linear" ? 1 - p : (1 + Math.cos(Math.PI * p)) / 2;
    return this.floor + (1 - this.floor) * shape;
  }
}
