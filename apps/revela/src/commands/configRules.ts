import { describeOption, optionAllows } from "@revela/kernels";
import { InvalidArgumentError } from "commander";
import { getConfigPath } from "../config/configPath.js";
import { APP_CONFIG_OPTIONS } from "../pipeline/appConfigOptions.js";
import { parserOf } from "./flagParsers.js";
import type { AppConfig } from "./pipelineApi.js";
import { TRAIN_FLAGS } from "./trainFlags.js";

type Parser = (text: string) => unknown;

/** Every dotted key of a config whose value is not a section. */
export function configLeafKeys(config: unknown, prefix = ""): string[] {
  if (config === null || typeof config !== "object" || Array.isArray(config)) return prefix ? [prefix] : [];
  return Object.entries(config).flatMap(([key, value]) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? configLeafKeys(value, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

/**
 * The rule of a key: its option rule (APP_CONFIG_OPTIONS), else its flag's parser (text keys such
 * as paths, checked as the flag checks them).
 */
export function ruleOf(key: string): Parser | undefined {
  const rule = APP_CONFIG_OPTIONS[key];
  if (rule) return parserOf(rule);
  return TRAIN_FLAGS.find((f) => f.configKey === key)?.parse;
}

/**
 * Throws, naming where the value came from (`source(key)`), for the first value out of its range —
 * from a --config file or a saved run, so that `{"minutes": -1}` fails at once instead of running
 * (or failing after an hour).
 */
export function checkConfigValues(config: AppConfig, source: (key: string) => string): void {
  for (const key of configLeafKeys(config)) {
    const value = getConfigPath(config, key);
    if (value === null) continue;
    const rule = APP_CONFIG_OPTIONS[key];
    if (rule) {
      if (!optionAllows(rule, value)) {
        throw new Error(`${source(key)} = ${JSON.stringify(value)} is invalid. It must be ${describeOption(rule)}.`);
      }
      continue;
    }
    const parse = ruleOf(key);
    if (parse === undefined || Array.isArray(value) || typeof value === "boolean") continue;
    try {
      parse(String(value));
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      throw new Error(`${source(key)} = ${JSON.stringify(value)} is invalid. ${error.message}`);
    }
  }
}
