import { copyFile, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  CONFIG_FILE,
  CompactTokenizer,
  loadLoraAdapter,
  loadPretrained,
  saveLoraAdapter,
  saveModel,
  type TextTokenizer,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  Tokenizer,
  VOCAB_COMPACTION_FILE,
  VocabularyCompaction,
} from "@revela/language-model";
import type { EncoderOptions } from "../encoder/encoderOptions.js";
import { movedAside, replaceDirectory } from "./atomicDirectory.js";
import { Retriever } from "./retriever.js";
import {
  parseRetrieverConfig,
  RETRIEVER_CONFIG_FILE,
  RETRIEVER_FORMAT,
  RETRIEVER_FORMAT_VERSION,
  type RetrieverConfig,
} from "./retrieverConfig.js";

/**
 * A retriever directory:
 *
 *   config.json, model.safetensors (or shards)   the backbone, Hugging Face format
 *   adapter/ (adapter_config.json, adapter_model.safetensors)   PEFT LoRA, if any
 *   tokenizer.json, tokenizer_config.json         the tokenizer
 *   vocab_compaction.json                         when the backbone uses a compact vocabulary
 *   retriever.json                                encoder options; written last
 */

export const ADAPTER_SUBDIR = "adapter";

/** A base model and an adapter directory, e.g. a Llama-3.2 checkpoint and a published Revela adapter. */
export interface RetrieverSources {
  /** Hugging Face checkpoint directory of the backbone (config.json + safetensors). */
  model: string;
  /** PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors). */
  adapter?: string;
  /** Directory with tokenizer.json (default: `model`, else `adapter`, whichever has one). */
  tokenizer?: string;
  /** Encoder options (default: eos pooling, normalised, "query: " / "passage: ", as Revela). */
  options?: Partial<EncoderOptions>;
}

/**
 * Writes a retriever directory (see above) atomically: the whole directory is written beside `dir`
 * and renamed into place, so a crash at any moment leaves the previous retriever or the new one,
 * never new weights beside an old retriever.json; the next save removes what a crash left. An
 * existing `dir` is replaced only if it holds nothing but a retriever's files.
 */
export async function saveRetriever(retriever: Retriever, dir: string): Promise<void> {
  if (typeof dir !== "string" || !dir) throw new Error("saveRetriever: dir must be a directory path");
  await replaceDirectory(dir, (tmp) => writeRetrieverFiles(retriever, tmp), foreignEntries);
}

/** Why a directory must not be replaced by a retriever: entries that are not a retriever's (or null). */
function foreignEntries(entries: string[]): string | null {
  const ours = (e: string) =>
    RETRIEVER_ENTRIES.has(e) || /^model-\d{5}-of-\d{5}\.safetensors$/.test(e) || e.endsWith(".partial");
  const foreign = entries.filter((e) => !ours(e));
  if (foreign.length === 0) return null;
  return `holds ${foreign.slice(0, 5).join(", ")}${foreign.length > 5 ? ` (+${foreign.length - 5} more)` : ""}, which a saved retriever does not; save into a new or empty directory`;
}

const RETRIEVER_ENTRIES = new Set([
  RETRIEVER_CONFIG_FILE,
  CONFIG_FILE,
  "model.safetensors",
  "model.safetensors.index.json",
  ADAPTER_SUBDIR,
  TOKENIZER_FILE,
  TOKENIZER_CONFIG_FILE,
  VOCAB_COMPACTION_FILE,
]);

/** The files of a retriever directory; retriever.json last. */
async function writeRetrieverFiles(retriever: Retriever, dir: string): Promise<void> {
  const op = "saveRetriever";
  if (!(retriever instanceof Retriever)) throw new Error(`${op}: retriever must be a Retriever`);
  if (typeof dir !== "string" || !dir) throw new Error(`${op}: dir must be a directory path`);
  if (retriever.tokenizerDir === null) {
    throw new Error(
      `${op}: the retriever does not know where its tokenizer.json is; build it with { tokenizerDir } (or a tokenizer from Tokenizer.fromDir)`,
    );
  }
  const tokenizerDir = retriever.tokenizerDir;
  await requireFile(op, join(tokenizerDir, TOKENIZER_FILE), "the tokenizer");
  await mkdir(dir, { recursive: true });
  await saveModel(retriever.backbone, dir);
  const lora = retriever.lora;
  if (lora) await saveLoraAdapter(retriever.backbone, join(dir, ADAPTER_SUBDIR), lora);
  if (resolve(tokenizerDir) !== resolve(dir)) {
    await copyFile(join(tokenizerDir, TOKENIZER_FILE), join(dir, TOKENIZER_FILE));
    if (await isFile(join(tokenizerDir, TOKENIZER_CONFIG_FILE))) {
      await copyFile(join(tokenizerDir, TOKENIZER_CONFIG_FILE), join(dir, TOKENIZER_CONFIG_FILE));
    }
  }
  const tokenizer = retriever.tokenizer;
  if (tokenizer instanceof CompactTokenizer) await tokenizer.compaction.save(dir);
  await recordBosChoice(tokenizer, dir);
  const config: RetrieverConfig = {
    format: RETRIEVER_FORMAT,
    version: RETRIEVER_FORMAT_VERSION,
    dimensions: retriever.dimensions,
    encoder: { ...retriever.options },
    adapter: lora ? ADAPTER_SUBDIR : null,
    vocabCompaction: tokenizer instanceof CompactTokenizer,
  };
  const file = join(dir, RETRIEVER_CONFIG_FILE);
  await writeFile(`${file}.partial`, `${JSON.stringify(config, null, 2)}\n`);
  await rename(`${file}.partial`, file);
}

/**
 * Loading decides BOS from tokenizer_config.json's add_bos_token. A tokenizer built with BOS forced
 * on (or off) against its files' default — the app forces BOS on the shipped Llama-3 file, whose
 * post-processor adds none — must load the same way, or the saved retriever would embed other ids.
 */
async function recordBosChoice(tokenizer: unknown, dir: string): Promise<void> {
  const base =
    tokenizer instanceof CompactTokenizer ? tokenizer.base : tokenizer instanceof Tokenizer ? tokenizer : null;
  if (!base) return;
  const file = join(dir, TOKENIZER_CONFIG_FILE);
  const config = (await isFile(file)) ? (JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>) : {};
  if (config.add_bos_token === base.addBosToken) return;
  config.add_bos_token = base.addBosToken;
  await writeFile(`${file}.partial`, `${JSON.stringify(config, null, 2)}\n`);
  await rename(`${file}.partial`, file);
}

/**
 * Loads a retriever directory written by saveRetriever, or — given `{ model, adapter, tokenizer }` —
 * a base model plus a PEFT adapter (such as the published Revela checkpoints) with default or given
 * encoder options. Missing files and directories from other format versions fail naming the file.
 */
export async function loadRetriever(source: string | RetrieverSources): Promise<Retriever> {
  const op = "loadRetriever";
  if (typeof source === "string") return loadDirectory(source);
  if (typeof source !== "object" || source === null || typeof source.model !== "string" || !source.model) {
    throw new Error(`${op}: source must be a retriever directory or { model, adapter?, tokenizer?, options? }`);
  }
  await requireFile(op, join(source.model, CONFIG_FILE), "the backbone");
  if (source.adapter !== undefined) await requireAdapter(op, source.adapter);
  const candidates = source.tokenizer !== undefined ? [source.tokenizer] : [source.model, source.adapter];
  let tokenizerDir: string | null = null;
  for (const candidate of candidates) {
    if (candidate !== undefined && (await isFile(join(candidate, TOKENIZER_FILE)))) {
      tokenizerDir = candidate;
      break;
    }
  }
  if (tokenizerDir === null) {
    throw new Error(
      `${op}: no ${TOKENIZER_FILE} in ${candidates.filter((c) => c !== undefined).join(" or ")}; pass { tokenizer: dir }`,
    );
  }
  const tokenizer = await Tokenizer.fromDir(tokenizerDir);
  const backbone = await loadPretrained(source.model, { backbone: true });
  try {
    const lora = source.adapter !== undefined ? await loadLoraAdapter(backbone, source.adapter) : null;
    return new Retriever({ backbone, tokenizer, options: source.options ?? {}, lora, tokenizerDir });
  } catch (e) {
    backbone.dispose();
    throw e;
  }
}

async function loadDirectory(dir: string): Promise<Retriever> {
  const op = "loadRetriever";
  if (!dir) throw new Error(`${op}: dir must be a directory path`);
  const configFile = join(dir, RETRIEVER_CONFIG_FILE);
  // A save that is swapping the directory (or crashed doing so) has it under its moved-aside name.
  const aside = (await isFile(configFile)) ? null : await movedAside(dir);
  if (aside !== null) return loadDirectory(aside);
  if (!(await isFile(configFile))) {
    throw new Error(
      `${op}: ${configFile} not found: ${dir} is not a retriever directory written by saveRetriever` +
        " (for a base model + adapter, call loadRetriever({ model, adapter, tokenizer }))",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configFile, "utf8"));
  } catch (e) {
    throw new Error(`${op}: ${configFile} is not valid JSON: ${(e as Error).message}`);
  }
  const config = parseRetrieverConfig(json, configFile);
  await requireFile(op, join(dir, CONFIG_FILE), "the backbone");
  await requireFile(op, join(dir, TOKENIZER_FILE), "the tokenizer");
  if (config.vocabCompaction) await requireFile(op, join(dir, VOCAB_COMPACTION_FILE), "the vocabulary compaction");
  const adapterDir = config.adapter === null ? null : join(dir, config.adapter);
  if (adapterDir !== null) await requireAdapter(op, adapterDir);

  const base = await Tokenizer.fromDir(dir);
  const tokenizer: TextTokenizer = config.vocabCompaction
    ? base.withCompaction(await VocabularyCompaction.load(dir))
    : base;
  const backbone = await loadPretrained(dir, { backbone: true });
  try {
    if (backbone.config.hiddenSize !== config.dimensions) {
      throw new Error(
        `${op}: ${configFile} says dimensions ${config.dimensions}, but ${join(dir, CONFIG_FILE)} has hidden_size ${backbone.config.hiddenSize}`,
      );
    }
    const lora = adapterDir !== null ? await loadLoraAdapter(backbone, adapterDir) : null;
    return new Retriever({ backbone, tokenizer, options: config.encoder, lora, tokenizerDir: dir });
  } catch (e) {
    backbone.dispose();
    throw e;
  }
}

async function requireAdapter(op: string, dir: string): Promise<void> {
  await requireFile(op, join(dir, ADAPTER_CONFIG_FILE), "the LoRA adapter");
  await requireFile(op, join(dir, ADAPTER_WEIGHTS_FILE), "the LoRA adapter");
}

async function requireFile(op: string, file: string, what: string): Promise<void> {
  if (!(await isFile(file))) throw new Error(`${op}: ${file} not found (${what} needs it)`);
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
