import { InvalidArgumentError } from "commander";
import { getConfigPath } from "../config/configPath.js";
import {
  fraction,
  integerAtLeast,
  nonNegativeInteger,
  nonNegativeNumber,
  positiveInteger,
  positiveNumber,
} from "./flagParsers.js";
import type { AppConfig } from "./pipelineApi.js";
import { TRAIN_FLAGS } from "./trainFlags.js";

type Rule = (text: string) => unknown;

/**
 * The range of every numeric AppConfig key, checked when a config is read — from a --config file,
 * a saved run — with the same parsers as the flags, so that `{"minutes": -1}` fails at once,
 * naming the file and the key, instead of running (or failing after an hour). Keys with a flag
 * use the flag's parser unless listed here; a test checks that every numeric key has a rule.
 */
export const CONFIG_RULES: Record<string, Rule> = {
  minutes: positiveNumber,
  seed: nonNegativeInteger,
  // r 0 means no LoRA (full fine-tuning) in a config; the flag asks for an adapter, so ≥ 1 there.
  "model.loraR": nonNegativeInteger,
  "model.loraAlpha": positiveNumber,
  "model.loraDropout": fraction,
  "model.hiddenSize": positiveInteger,
  "model.layers": positiveInteger,
  "model.heads": positiveInteger,
  "model.kvHeads": positiveInteger,
  "model.ffn": positiveInteger,
  "model.minTokenCount": positiveInteger,
  "model.copyAttention": nonNegativeNumber,
  "train.steps": positiveInteger,
  // W needs another chunk in the batch to weigh.
  "train.batchSize": integerAtLeast(2),
  "train.accumulationSteps": positiveInteger,
  "train.chunkWords": positiveInteger,
  "train.maxLmTokens": integerAtLeast(2),
  "train.maxRetrieverTokens": integerAtLeast(2),
  "train.temperature": positiveNumber,
  "train.topK": positiveInteger,
  "train.retrieverLr": nonNegativeNumber,
  "train.lmLr": nonNegativeNumber,
  "train.weightDecay": nonNegativeNumber,
  "train.warmupSteps": nonNegativeInteger,
  "train.maxGradNorm": positiveNumber,
  "train.lmWarmupShare": fraction,
  "train.checkpointEvery": positiveInteger,
  "train.checkpointMinutes": positiveNumber,
  "baseline.temperature": positiveNumber,
  "baseline.lr": nonNegativeNumber,
  "eval.maxDocTokens": integerAtLeast(2),
  "eval.batchSize": positiveInteger,
  "eval.curveEvery": nonNegativeInteger,
  "eval.curveQueries": positiveInteger,
  "eval.curveDocuments": nonNegativeInteger,
};

/** Every dotted key of a config whose value is not a section. */
export function configLeafKeys(config: unknown, prefix = ""): string[] {
  if (config === null || typeof config !== "object" || Array.isArray(config)) return prefix ? [prefix] : [];
  return Object.entries(config).flatMap(([key, value]) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? configLeafKeys(value, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

/** The rule of a key: its own, else its flag's parser (keys with a fixed set of choices are checked elsewhere). */
export function ruleOf(key: string): Rule | undefined {
  return CONFIG_RULES[key] ?? TRAIN_FLAGS.find((f) => f.configKey === key && !f.choices)?.parse;
}

/** Throws, naming where the value came from (`source(key)`), for the first value out of its range. */
export function checkConfigValues(config: AppConfig, source: (key: string) => string): void {
  for (const key of configLeafKeys(config)) {
    const value = getConfigPath(config, key);
    const rule = ruleOf(key);
    if (rule === undefined || value === null || Array.isArray(value) || typeof value === "boolean") continue;
    try {
      rule(String(value));
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      throw new Error(`${source(key)} = ${JSON.stringify(value)} is invalid. ${error.message}`);
    }
  }
}
