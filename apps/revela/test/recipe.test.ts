import { PAPER_RECIPE } from "@revela/trainer";
import { describe, expect, it } from "vitest";
import { DEFAULT_APP_CONFIG, resolveAppConfig } from "../src/pipeline/appConfig.js";

describe("recipes", () => {
  it("without --model the scratch preset applies: the app defaults", () => {
    const c = resolveAppConfig();
    expect(c.recipe).toBe("scratch");
    expect(c.train).toEqual(DEFAULT_APP_CONFIG.train);
    expect(c.model).toEqual(DEFAULT_APP_CONFIG.model);
  });

  it("with --model the paper preset applies: every official setting", () => {
    const c = resolveAppConfig({ values: { model: { dir: "/models/x" } } });
    expect(c.recipe).toBe("paper");
    expect(c.model).toMatchObject({
      dir: "/models/x",
      loraR: 256,
      loraAlpha: 64,
      loraDropout: 0.1,
      loraTargets: [...PAPER_RECIPE.lora.targets],
    });
    expect(c.train).toMatchObject({
      batchSize: 16,
      accumulationSteps: 32,
      batching: "bm25",
      maxLmTokens: 156,
      maxRetrieverTokens: 157,
      temperature: 1e-4,
      similarityPrecision: "bf16",
      valueNorm: true,
      dualLoss: false,
      retrieverLr: 1e-4,
      lmLr: 1e-4,
      weightDecay: 0,
      warmupSteps: 100,
      warmup: "log",
      decay: "linear",
      maxGradNorm: 1,
      lmWarmupShare: 0,
    });
  });

  it("flags and config files override the preset; the recipe can be chosen either way", () => {
    const c = resolveAppConfig({ values: { model: { dir: "/m" } }, overrides: ["train.temperature=0.05"] });
    expect(c.train.temperature).toBe(0.05);
    expect(c.train.accumulationSteps).toBe(32);
    const scratchWithModel = resolveAppConfig({ values: { model: { dir: "/m" }, recipe: "scratch" } });
    expect(scratchWithModel.train.temperature).toBe(DEFAULT_APP_CONFIG.train.temperature);
    const paperFromScratch = resolveAppConfig({ overrides: ["recipe=paper"] });
    expect(paperFromScratch.train.accumulationSteps).toBe(32);
  });

  it("names a bad recipe or choice", () => {
    expect(() => resolveAppConfig({ values: { recipe: "fast" } })).toThrow(
      /recipe must be "paper", "scratch" or null, got "fast"/,
    );
    expect(() => resolveAppConfig({ values: { train: { batching: "random" } } })).toThrow(
      /train\.batching must be one of "consecutive", "bm25", got "random"/,
    );
  });
});
