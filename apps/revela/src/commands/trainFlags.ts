import { BACKEND_NAMES } from "@revela/kernels";
import { type Command, Option } from "commander";
import { setConfigPath } from "../config/configPath.js";
import {
  nameList,
  nonEmptyText,
  nonNegativeInteger,
  nonNegativeNumber,
  positiveInteger,
  positiveNumber,
  threadCount,
} from "./flagParsers.js";

export interface TrainFlag {
  flags: string;
  description: string;
  parse: (text: string) => unknown;
  /** The AppConfig key the flag sets (dotted). */
  configKey: string;
  choices?: readonly string[];
}

/**
 * The training flags and the AppConfig keys they set. This table is the whole contract between
 * the command line and src/pipeline's AppConfig: if a config key moves, change it here (a test
 * checks that every key exists in DEFAULT_APP_CONFIG). Flags have no commander defaults, so that
 * a --config file's value is only replaced by a flag the user actually typed.
 */
export const TRAIN_FLAGS: readonly TrainFlag[] = [
  {
    flags: "--minutes <n>",
    description: "wall-clock budget of the whole run in minutes; training gets what evaluation leaves",
    parse: positiveNumber,
    configKey: "minutes",
  },
  {
    flags: "--steps <n>",
    description: "training step cap (the time budget usually stops training first)",
    parse: positiveInteger,
    configKey: "train.steps",
  },
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
  {
    flags: "--lora-alpha <n>",
    description: "LoRA alpha (with --model)",
    parse: positiveNumber,
    configKey: "model.loraAlpha",
  },
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
  {
    flags: "--temperature <tau>",
    description: "τ of the document weights W = softmax(cos/τ) (paper 1e-4)",
    parse: positiveNumber,
    configKey: "train.temperature",
  },
  {
    flags: "--copy-attention <scale>",
    description:
      "from-scratch LM: initialise attention to copy what it reads (v/o = identity × scale; 0 = random init)",
    parse: nonNegativeNumber,
    configKey: "model.copyAttention",
  },
  {
    flags: "--accumulation-steps <n>",
    description: "batches per optimizer update, each its own in-batch group (paper 32)",
    parse: positiveInteger,
    configKey: "train.accumulationSteps",
  },
  {
    flags: "--batching <kind>",
    description: "how batches are formed: bm25 (a chunk and its BM25 neighbours, paper) or consecutive",
    parse: nonEmptyText,
    configKey: "train.batching",
    choices: ["bm25", "consecutive"],
  },
  {
    flags: "--similarity-precision <p>",
    description: "precision of cos(q, p) before /τ: bf16 (as the paper's bf16 run) or float32",
    parse: nonEmptyText,
    configKey: "train.similarityPrecision",
    choices: ["bf16", "float32"],
  },
  { flags: "--seed <n>", description: "random seed", parse: nonNegativeInteger, configKey: "seed" },
  {
    flags: "--backend <name>",
    description: "compute backend (default: the best available)",
    parse: nonEmptyText,
    configKey: "backend",
    choices: BACKEND_NAMES,
  },
  {
    flags: "--threads <n>",
    description: "wasm threads, 1-8 (default: one per core)",
    parse: threadCount,
    configKey: "threads",
  },
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
