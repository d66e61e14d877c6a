import { describe, expect, it } from "vitest";
import { MIN_TRAINING_MINUTES, trainingBudget } from "../src/pipeline/trainingBudget.js";

const base = {
  minutes: 20,
  elapsedSeconds: 60,
  evalSeconds: 30,
  lmWarmupShare: 0.4,
  evaluatesInit: false,
  contrastive: true,
};

describe("trainingBudget", () => {
  it("leaves the evaluations and the fixed work that follow, counts the baseline's steps, and splits off the warm-up", () => {
    // 1200 − 60 s left; 2.2 evaluations of 30 s and 20 s follow; the baseline costs 0.2 × 0.6 per training unit.
    const total = (1140 - 66 - 20) / (1.05 + 0.2 * 0.6) / 60;
    const b = trainingBudget(base);
    expect(b.trainingMinutes).toBeCloseTo(total, 12);
    expect(b.lmWarmupMinutes).toBeCloseTo(total * 0.4, 12);
    expect(b.lmWarmupMinutes + b.revelaMinutes).toBeCloseTo(total, 12);
  });

  it("gives more to training without the baseline and less when an extra evaluation follows", () => {
    const b = trainingBudget(base);
    expect(trainingBudget({ ...base, contrastive: false }).trainingMinutes).toBeGreaterThan(b.trainingMinutes);
    expect(trainingBudget({ ...base, evaluatesInit: true }).trainingMinutes).toBeCloseTo(
      b.trainingMinutes - 30 / (1.05 + 0.2 * 0.6) / 60,
      12,
    );
  });

  it("still trains a little when the budget is spent", () => {
    expect(trainingBudget({ ...base, elapsedSeconds: 5000 }).trainingMinutes).toBe(MIN_TRAINING_MINUTES);
  });

  it("refuses inputs that are not budgets, naming the field", () => {
    expect(() => trainingBudget({ ...base, evalSeconds: Number.NaN })).toThrow(
      /evalSeconds must be a finite number ≥ 0/,
    );
    expect(() => trainingBudget({ ...base, lmWarmupShare: 1 })).toThrow(/lmWarmupShare must be below 1, got 1/);
  });
});
