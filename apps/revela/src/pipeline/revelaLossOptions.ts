import type { RevelaLossOptions } from "@revela/trainer";
import type { AppConfig } from "./appConfig.js";

/** The Revela loss as the config sets it: what `--temperature`, `--implementation` and `--top-k` reach. */
export function revelaLossOptions(train: AppConfig["train"]): RevelaLossOptions {
  if (train === null || typeof train !== "object")
    throw new Error("revelaLossOptions: train must be the config's train section");
  return {
    temperature: train.temperature,
    implementation: train.implementation,
    topK: train.topK,
    valueNorm: train.valueNorm,
    dualLoss: train.dualLoss,
    similarityPrecision: train.similarityPrecision,
  };
}
