import { statSync } from "node:fs";
import path from "node:path";
import { type Command, Option } from "commander";
import { checkDatasetDir } from "../data/checkDatasetDir.js";
import { defaultDatasetDir } from "../data/defaultDataset.js";
import { formatResultsTable } from "../report/resultsTable.js";
import { writeReport } from "../report/writeReport.js";
import type { CliContext } from "./cliContext.js";
import { checkModelDir } from "./modelDir.js";
import { prepareOutputDir } from "./outputDir.js";
import { type AppConfig, resolveAppConfig } from "./pipelineApi.js";
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
  return { ...config, data, out, model: { ...config.model, dir: model } };
}

/** Trains, evaluates and reports: the whole pipeline, then the table on stdout and the report in the output folder. */
async function train(command: Command, ctx: CliContext): Promise<void> {
  const config = resolveTrainConfig(command);
  // Found (or reported missing) now, not after the backend has started.
  const defaultDataDir = defaultDatasetDir();
  if (config.data === null) checkDatasetDir(defaultDataDir, "embedded dataset", { split: config.split });
  const log = (message: string) => void ctx.stderr.write(`${message}\n`);
  ctx.setGracefulStop(true);
  let result: Awaited<ReturnType<CliContext["runPipeline"]>>;
  try {
    result = await ctx.runPipeline(config, { log, defaultDataDir, progressStream: ctx.stderr });
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
    .action(async () => train(command, ctx));
  return command;
}
