import { statSync } from "node:fs";
import path from "node:path";
import { type Command, Option } from "commander";
import { getConfigPath, setConfigPath } from "../config/configPath.js";
import { checkDatasetDir } from "../data/checkDatasetDir.js";
import { defaultDatasetDir } from "../data/defaultDataset.js";
import { formatResultsTable } from "../report/resultsTable.js";
import { writeReport } from "../report/writeReport.js";
import type { CliContext } from "./cliContext.js";
import { checkConfigValues } from "./configRules.js";
import { checkModelDir } from "./modelDir.js";
import { checkOutputDir, claimOutputDir, prepareOutputDir, removeLeftovers } from "./outputDir.js";
import { type AppConfig, DEFAULT_APP_CONFIG, RUN_STATE_FILE, readRunState, resolveAppConfig } from "./pipelineApi.js";
import { addTrainOptions, LORA_KEYS, TRAIN_FLAGS, trainFlagOverrides } from "./trainFlags.js";

/** Where a config key's value came from, for error messages: the flag if typed, else the config file's key. */
function sourceOf(key: string, given: readonly string[], configFile: string | undefined): string {
  const flag = TRAIN_FLAGS.find((f) => f.configKey === key);
  if (given.includes(key) && flag) return flag.flags.split(" ")[0] as string;
  return configFile !== undefined ? `${configFile}: "${key}"` : `config key "${key}"`;
}

/**
 * The config of a training run: the defaults, then the --config file, then the flags the user
 * typed (resolveAppConfig checks every key and kind, naming the file). Then the paths are checked
 * — before any model is built, so a typo fails in a second, not after an hour — and made absolute,
 * so that results.json's config reruns from any folder.
 */
export function resolveTrainConfig(command: Command): AppConfig {
  const { config: configFile } = command.opts<{ config?: string }>();
  if (configFile !== undefined) {
    const stat = statSync(configFile, { throwIfNoEntry: false });
    if (!stat) throw new Error(`--config ${configFile}: no such file`);
    if (!stat.isFile()) throw new Error(`--config ${configFile}: not a file`);
  }
  const { overrides, given } = trainFlagOverrides(command);
  const config = resolveAppConfig({ ...(configFile !== undefined ? { file: configFile } : {}), values: overrides });
  const source = (key: string) => sourceOf(key, given, configFile);
  checkConfigValues(config, source);
  // First of the paths: an unwritable output folder must fail before anything else is looked at.
  checkOutputDir(config.out, source("out"));

  const loraFlag = given.find((k) => LORA_KEYS.includes(k));
  if (loraFlag !== undefined && config.model.dir === null) {
    throw new Error(
      `${source(loraFlag)} needs --model: LoRA adapts a pretrained checkpoint; the default model is trained from scratch with all weights`,
    );
  }
  const model = config.model.dir === null ? null : path.resolve(config.model.dir);
  if (model !== null) checkModelDir(config.model.dir as string, source("model.dir"));
  const data = config.data === null ? null : path.resolve(config.data);
  if (data !== null) checkDatasetDir(config.data as string, source("data"), { split: config.split });
  const out = prepareOutputDir(config.out, source("out"));
  removeLeftovers(out);
  claimOutputDir(out, command.opts<{ overwrite?: boolean }>().overwrite === true, source("out"));
  return { ...config, data, out, model: { ...config.model, dir: model } };
}

/** Keys a resumed run may change: they decide how fast it runs, not what it computes. */
const RESUMABLE_CHANGES = ["out", "minutes", "threads", "backend"];
const PATH_KEYS = ["data", "model.dir"];

/**
 * The config of `revela train --resume`: the one the run in --out started with (run-state.json),
 * with only --minutes, --threads and --backend taken from the command line; any other flag that
 * differs is an error, since the run could not then finish as it would have uninterrupted.
 */
export function resolveResumeConfig(command: Command): AppConfig {
  if (command.opts<{ config?: string }>().config !== undefined) {
    throw new Error(
      "--resume continues a run with the config it started with (run-state.json in --out): drop --config",
    );
  }
  const { overrides, given } = trainFlagOverrides(command);
  const out = prepareOutputDir((getConfigPath(overrides, "out") as string | undefined) ?? DEFAULT_APP_CONFIG.out);
  const saved = readRunState(out).config;
  for (const key of given) {
    if (RESUMABLE_CHANGES.includes(key)) continue;
    const before = getConfigPath(saved, key);
    const typed = getConfigPath(overrides, key);
    // Paths are saved absolute.
    const after = PATH_KEYS.includes(key) && typeof typed === "string" ? path.resolve(typed) : typed;
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      throw new Error(
        `${sourceOf(key, given, undefined)} ${JSON.stringify(typed)}: --resume continues the run in ${out} with the config it started with, where ${key} is ${JSON.stringify(before)}; start a new run (--overwrite, or another --out) to change it`,
      );
    }
  }
  const values = structuredClone(saved) as unknown as Record<string, unknown>;
  for (const key of given)
    if (RESUMABLE_CHANGES.includes(key)) setConfigPath(values, key, getConfigPath(overrides, key));
  const config = resolveAppConfig({ values });
  checkConfigValues(config, (key) =>
    given.includes(key) ? sourceOf(key, given, undefined) : `${path.join(out, RUN_STATE_FILE)}: "${key}"`,
  );
  if (config.model.dir !== null) checkModelDir(config.model.dir, `${RUN_STATE_FILE}: "model.dir"`);
  if (config.data !== null) checkDatasetDir(config.data, `${RUN_STATE_FILE}: "data"`, { split: config.split });
  removeLeftovers(out);
  return { ...config, out };
}

/** Trains, evaluates and reports: the whole pipeline, then the table on stdout and the report in the output folder. */
async function train(command: Command, ctx: CliContext): Promise<void> {
  const { resume, overwrite } = command.opts<{ resume?: boolean; overwrite?: boolean }>();
  if (resume && overwrite) throw new Error("--resume continues the run in --out and --overwrite replaces it: give one");
  const config = resume ? resolveResumeConfig(command) : resolveTrainConfig(command);
  // Found (or reported missing) now, not after the backend has started.
  const defaultDataDir = defaultDatasetDir();
  if (config.data === null) checkDatasetDir(defaultDataDir, "embedded dataset", { split: config.split });
  const log = (message: string) => void ctx.stderr.write(`${message}\n`);
  ctx.setGracefulStop(true);
  let result: Awaited<ReturnType<CliContext["runPipeline"]>>;
  try {
    result = await ctx.runPipeline(config, {
      log,
      defaultDataDir,
      progressStream: ctx.stderr,
      ...(resume ? { resume: true } : {}),
    });
  } finally {
    ctx.setGracefulStop(false);
  }
  ctx.stdout.write(result.rows.length > 0 ? `${formatResultsTable(result.rows)}\n` : "no systems were evaluated\n");
  const files = await writeReport(config.out, result);
  log(`report: ${files.html}`);
  log(`results: ${files.json}, ${files.markdown}`);
  if (ctx.signal.aborted) log("training was interrupted; the results are those of the steps completed");
}

/** `revela train` — also what `revela` with no command runs. */
export function registerTrainCommand(program: Command, ctx: CliContext): Command {
  const command = program
    .command("train", { isDefault: true })
    .description(
      "train a Revela retriever on a BEIR corpus (default: the embedded SciFact), evaluate it against BM25 and the baselines, and write a report; the default command",
    );
  addTrainOptions(command);
  command
    .addOption(
      new Option(
        "--config <file.json>",
        "JSON config (keys as in results.json's config: data, split, out, seed, minutes, model.*, train.*, baseline.*, eval.*); flags typed on the command line override it",
      ),
    )
    .addOption(
      new Option(
        "--resume",
        "continue the run in --out (after a kill or Ctrl-C): finished phases are skipped, the interrupted one continues from its newest checkpoint; takes the run's saved config (only --minutes, --threads, --backend may change)",
      ),
    )
    .addOption(
      new Option(
        "--overwrite",
        "replace the previous run in --out (run-state.json, runs/, retriever/, results, report); without it a previous run is never deleted",
      ),
    )
    .action(async () => train(command, ctx));
  return command;
}
