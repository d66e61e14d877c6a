import { BACKEND_NAMES } from "@revela/kernels";
import { type Command, Option } from "commander";
import { setConfigPath } from "../config/configPath.js";
import { APP_CONFIG_OPTIONS } from "../pipeline/appConfigOptions.js";
import { nameList, nonEmptyText, parserOf, positiveInteger } from "./flagParsers.js";

export interface TrainFlag {
  flags: string;
  description: string;
  parse: (text: string) => unknown;
  /** The AppConfig key the flag sets (dotted). */
  configKey: string;
  choices?: readonly string[];
}

/**
 * A flag for a key of APP_CONFIG_OPTIONS: its parser (or choices) from the key's rule, and its
 * description from the rule's doc unless given — so that a flag and a config file check a value
 * alike, and a package's setting is documented where it is declared.
 */
function optionFlag(flags: string, configKey: string, description?: string): TrainFlag {
  const rule = APP_CONFIG_OPTIONS[configKey];
  if (!rule) throw new Error(`trainFlags: ${flags} sets ${configKey}, which has no entry in APP_CONFIG_OPTIONS`);
  const text = description ?? rule.doc;
  if (text === "") throw new Error(`trainFlags: ${flags} needs a description (${configKey}'s rule has no doc)`);
  return {
    flags,
    description: text,
    parse: parserOf(rule),
    configKey,
    ...(rule.kind === "choice" ? { choices: rule.choices } : {}),
  };
}

/**
 * The training flags and the AppConfig keys they set. This table is the whole contract between
 * the command line and src/pipeline's AppConfig: if a config key moves, change it here (a test
 * checks that every key exists in DEFAULT_APP_CONFIG). Flags have no commander defaults, so that
 * a --config file's value is only replaced by a flag the user actually typed.
 */
export const TRAIN_FLAGS: readonly TrainFlag[] = [
  optionFlag(
    "--minutes <n>",
    "minutes",
    "wall-clock budget of the whole run in minutes; training gets what evaluation leaves",
  ),
  optionFlag("--steps <n>", "train.steps", "training step cap (the time budget usually stops training first)"),
  {
    flags: "--data <beirDir>",
    description: "BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/test.tsv); default: the embedded SciFact",
    parse: nonEmptyText,
    configKey: "data",
  },
  {
    flags: "--model <hfDir>",
    description:
      "start from a Hugging Face checkpoint folder (config.json + safetensors) instead of the small reference model",
    parse: nonEmptyText,
    configKey: "model.dir",
  },
  { flags: "--lora-r <n>", description: "LoRA rank (with --model)", parse: positiveInteger, configKey: "model.loraR" },
  optionFlag("--lora-alpha <n>", "model.loraAlpha", "LoRA alpha (with --model)"),
  {
    flags: "--lora-targets <names>",
    description: "LoRA target modules, comma-separated, e.g. q_proj,k_proj,v_proj,o_proj (with --model)",
    parse: nameList,
    configKey: "model.loraTargets",
  },
  {
    flags: "--recipe <name>",
    description:
      "settings preset: paper (the official recipe; the default with --model) or scratch (small from-scratch model; the default without)",
    parse: nonEmptyText,
    configKey: "recipe",
    choices: ["paper", "scratch"],
  },
  // τ, the implementation, top-k and the similarity precision: rule and doc from @revela/inbatch-attention.
  optionFlag("--temperature <tau>", "train.temperature"),
  optionFlag("--implementation <name>", "train.implementation"),
  optionFlag("--top-k <n>", "train.topK"),
  optionFlag("--similarity-precision <p>", "train.similarityPrecision"),
  optionFlag(
    "--copy-attention <scale>",
    "model.copyAttention",
    "from-scratch LM: initialise attention to copy what it reads (v/o = identity × scale; 0 = random init)",
  ),
  {
    flags: "--lm-init <dir>",
    description:
      "from-scratch LM: start from pretrained weights (model.safetensors + vocab_compaction.json, e.g. from experiments/pretrainReader.mjs)",
    parse: nonEmptyText,
    configKey: "model.lmInit",
  },
  optionFlag(
    "--accumulation-steps <n>",
    "train.accumulationSteps",
    "batches per optimizer update, each its own in-batch group (paper 32)",
  ),
  optionFlag(
    "--batching <kind>",
    "train.batching",
    "how batches are formed: bm25 (a chunk and its BM25 neighbours, paper) or consecutive",
  ),
  optionFlag("--seed <n>", "seed", "random seed"),
  {
    flags: "--backend <name>",
    description: "compute backend (default: the best available)",
    parse: nonEmptyText,
    configKey: "backend",
    choices: BACKEND_NAMES,
  },
  optionFlag("--threads <n>", "threads", "wasm threads, 1-8 (default: one per core)"),
  {
    flags: "--out <dir>",
    description:
      "output folder: results.json, report.html, results.md, the trained retriever, runs (default: revela-output)",
    parse: nonEmptyText,
    configKey: "out",
  },
];

/** Flags that only make sense with a pretrained --model. */
export const LORA_KEYS = ["model.loraR", "model.loraAlpha", "model.loraTargets"];

/** Adds the training flags to a command (the default command and `train` share them). */
export function addTrainOptions(command: Command): Command {
  for (const flag of TRAIN_FLAGS) {
    const option = new Option(flag.flags, flag.description);
    if (flag.choices) option.choices(flag.choices);
    else option.argParser(flag.parse);
    command.addOption(option);
  }
  return command;
}

/**
 * The AppConfig overrides given on the command line: only flags the user typed (commander's value
 * source "cli"), so that a --config file's values are not replaced by anything the user did not ask for.
 */
export function trainFlagOverrides(command: Command): { overrides: Record<string, unknown>; given: string[] } {
  const overrides: Record<string, unknown> = {};
  const given: string[] = [];
  const values = command.opts();
  for (const flag of TRAIN_FLAGS) {
    const option = command.options.find((o) => o.flags === flag.flags);
    if (!option) continue;
    const name = option.attributeName();
    if (command.getOptionValueSource(name) !== "cli") continue;
    setConfigPath(overrides, flag.configKey, values[name]);
    given.push(flag.configKey);
  }
  return { overrides, given };
}
