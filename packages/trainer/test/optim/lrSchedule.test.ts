import { describe, expect, it } from "vitest";
import { LrSchedule } from "../../src/optim/lrSchedule.js";

describe("LrSchedule", () => {
  it("warms up linearly from 1/warmupSteps to 1", () => {
    const s = new LrSchedule({ kind: "linear", warmupSteps: 100, totalSteps: 1100 });
    expect(s.factor(1)).toBeCloseTo(0.01, 12);
    expect(s.factor(50)).toBeCloseTo(0.5, 12);
    expect(s.factor(100)).toBe(1);
  });

  it("decays linearly to the floor at totalSteps and stays there", () => {
    const s = new LrSchedule({ kind: "linear", warmupSteps: 100, totalSteps: 1100, floor: 0.1 });
    expect(s.factor(600)).toBeCloseTo(0.55, 12);
    expect(s.factor(350)).toBeCloseTo(0.1 + 0.9 * 0.75, 12);
    expect(s.factor(1100)).toBeCloseTo(0.1, 12);
    expect(s.factor(5000)).toBeCloseTo(0.1, 12);
  });

  it("decays along a half cosine to the floor", () => {
    const s = new LrSchedule({ kind: "cosine", warmupSteps: 10, totalSteps: 110 });
    expect(s.factor(10)).toBe(1);
    expect(s.factor(35)).toBeCloseTo((1 + Math.cos(Math.PI / 4)) / 2, 12);
    expect(s.factor(60)).toBeCloseTo(0.5, 12);
    expect(s.factor(110)).toBeCloseTo(0, 12);
    const floored = new LrSchedule({ kind: "cosine", totalSteps: 100, floor: 0.2 });
    expect(floored.factor(50)).toBeCloseTo(0.6, 12);
    expect(floored.factor(100)).toBeCloseTo(0.2, 12);
  });

  it("stays at 1 after warm-up when constant", () => {
    const s = new LrSchedule({ kind: "constant", warmupSteps: 4 });
    expect([1, 2, 4, 5, 10_000].map((t) => s.factor(t))).toEqual([0.25, 0.5, 1, 1, 1]);
    expect(new LrSchedule({ kind: "constant" }).factor(1)).toBe(1);
  });

  it("log warm-up is DeepSpeed's WarmupDecayLR (the official recipe): ln t / ln W, then linear decay to 0", () => {
    const s = new LrSchedule({ kind: "linear", warmup: "log", warmupSteps: 100, totalSteps: 1000 });
    expect(s.factor(1)).toBe(0);
    expect(s.factor(10)).toBeCloseTo(0.5, 12); // ln 10 / ln 100
    expect(s.factor(50)).toBeCloseTo(Math.log(50) / Math.log(100), 12);
    expect(s.factor(100)).toBeCloseTo(1, 12);
    expect(s.factor(550)).toBeCloseTo(0.5, 12);
    expect(s.factor(1000)).toBe(0);
    expect(() => new LrSchedule({ kind: "linear", warmup: "log", warmupSteps: 1, totalSteps: 9 })).toThrow(
      /a "log" warm-up needs warmupSteps ≥ 2/,
    );
    expect(() => new LrSchedule({ kind: "constant", warmup: "exp" as "log" })).toThrow(
      /options\.warmup must be one of "linear", "log", got "exp"/,
    );
  });

  it("names the bad option", () => {
    expect(() => new LrSchedule({ kind: "step" as "linear" })).toThrow(
      /options\.kind must be "linear", "cosine" or "constant", got "step"/,
    );
    expect(() => new LrSchedule({ kind: "linear", warmupSteps: 10 })).toThrow(
      /options\.totalSteps must be an integer greater than warmupSteps \(10\)/,
    );
    expect(() => new LrSchedule({ kind: "cosine", totalSteps: 10, floor: 2 })).toThrow(
      /options\.floor must be a number in \[0, 1\]/,
    );
    expect(() => new LrSchedule({ kind: "constant" }).factor(0)).toThrow(/step must be an integer ≥ 1/);
  });
});
