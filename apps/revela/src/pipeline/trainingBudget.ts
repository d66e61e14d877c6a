/**
 * How the pipeline splits its wall-clock budget. Training comes last in the plan but is the only
 * elastic part: everything else is either done already (loading, BM25, models, the untrained
 * evaluation) or estimated from what was measured, and training gets the rest.
 */

/**
 * Full evaluations that follow training, in units of the untrained evaluation just measured:
 * Revela's and the contrastive baseline's (counted even with the baseline off), plus 0.2 of one as
 * margin — a trained retriever's evaluation is not always as fast as the untrained one's.
 */
export const EVALUATIONS_AFTER_TRAINING = 2.2;

/** Seconds for what follows training and is not an evaluation: saving the retriever, fusion, disposal. An allowance, not a measurement. */
export const FIXED_SECONDS_AFTER_TRAINING = 20;

/**
 * A training phase stops at the first step that ends past its budget, then checkpoints: it overruns
 * by up to a step and a checkpoint. Budgets are divided by this to leave 5% for that.
 */
export const TRAINING_OVERRUN = 1.05;

/**
 * The contrastive baseline runs as many steps as Revela, each one retriever pass: measured on the
 * default configuration at 0.13 of a Revela step; 0.2 leaves room.
 */
export const BASELINE_STEP_COST = 0.2;

/** A budget already spent before training still trains this long, so that the run gives results rather than none. */
export const MIN_TRAINING_MINUTES = 0.5;

export interface TrainingBudgetInput {
  /** The whole run's budget (config.minutes). */
  minutes: number;
  /** Seconds spent so far. */
  elapsedSeconds: number;
  /** Seconds the untrained retriever's evaluation took: the unit of the evaluations still to come. */
  evalSeconds: number;
  /** Share of training spent on the LM warm-up (0 without one). */
  lmWarmupShare: number;
  /** The retriever is initialised from the warmed-up LM: one more evaluation (of that init) follows. */
  evaluatesInit: boolean;
  /** The contrastive baseline trains after Revela. */
  contrastive: boolean;
}

export interface TrainingBudget {
  /** Minutes of all training: LM warm-up plus Revela. */
  trainingMinutes: number;
  lmWarmupMinutes: number;
  revelaMinutes: number;
}

/**
 * The training minutes: what the budget leaves after the evaluations and the fixed work that
 * follow, shared between the warm-up and Revela, with the baseline's steps (which mirror Revela's,
 * not the warm-up's) and the overrun allowance counted against it.
 */
export function trainingBudget(input: TrainingBudgetInput): TrainingBudget {
  for (const key of ["minutes", "elapsedSeconds", "evalSeconds", "lmWarmupShare"] as const) {
    const value = input[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
      throw new Error(`trainingBudget: ${key} must be a finite number ≥ 0, got ${String(value)}`);
  }
  if (input.lmWarmupShare >= 1)
    throw new Error(`trainingBudget: lmWarmupShare must be below 1, got ${input.lmWarmupShare}`);
  const remaining = input.minutes * 60 - input.elapsedSeconds;
  const evaluations = EVALUATIONS_AFTER_TRAINING + (input.evaluatesInit ? 1 : 0);
  const baseline = input.contrastive ? BASELINE_STEP_COST * (1 - input.lmWarmupShare) : 0;
  const trainingMinutes = Math.max(
    MIN_TRAINING_MINUTES,
    (remaining - evaluations * input.evalSeconds - FIXED_SECONDS_AFTER_TRAINING) / (TRAINING_OVERRUN + baseline) / 60,
  );
  const lmWarmupMinutes = trainingMinutes * input.lmWarmupShare;
  return { trainingMinutes, lmWarmupMinutes, revelaMinutes: trainingMinutes - lmWarmupMinutes };
}
