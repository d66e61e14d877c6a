import { mkdir, readdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { SafetensorsHeader, SafetensorsTensorInfo } from "./header.js";
import { readSafetensorsHeader, readSafetensorsWithHeader, type SafetensorsTensor } from "./readSafetensors.js";
import { SafetensorsError } from "./safetensorsError.js";
import { prepareTensors, type TensorsInput, validateMetadata, writePreparedSafetensors } from "./writeSafetensors.js";

/**
 * Hugging Face checkpoint directories: one `model.safetensors`, or shards
 * `model-00001-of-00003.safetensors` … plus `model.safetensors.index.json`
 * (`{"metadata": {"total_size": bytes}, "weight_map": {tensor: shard file}}`), named and split exactly
 * as transformers' `save_pretrained` does, so a directory written here loads with
 * `from_pretrained` and the other way round. `fileName` generalises the base name (PEFT adapters use
 * `adapter_model.safetensors`).
 */

export const SAFE_WEIGHTS_NAME = "model.safetensors";
export const SAFE_ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";
/** transformers' default `max_shard_size` ("5GB", decimal as huggingface_hub parses it). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

export interface ReadCheckpointOptions {
  /** Read only these tensors (all must exist). */
  names?: readonly string[];
  /** Base file name; default "model.safetensors". The index is `${fileName}.index.json`. */
  fileName?: string;
}

export interface WriteCheckpointOptions {
  /** Largest shard in bytes of tensor data; default 5 GB. A larger tensor gets a shard of its own. */
  maxShardBytes?: number;
  /** Extra `__metadata__` for every file; `format: "pt"` is always written (transformers requires it). */
  metadata?: Record<string, string>;
  /** Base file name; default "model.safetensors". */
  fileName?: string;
}

export interface CheckpointTensorLocation {
  /** Absolute path of the file that holds the tensor. */
  file: string;
  info: SafetensorsTensorInfo;
}

export interface CheckpointHeaders {
  /** "single": one file; "sharded": an index and its shards. */
  layout: "single" | "sharded";
  /** The files read, in order (shards in index order). */
  files: string[];
  /** The index file, for sharded checkpoints. */
  indexFile: string | null;
  /** Every tensor, with where it lives. */
  tensors: Map<string, CheckpointTensorLocation>;
}

export interface WrittenCheckpoint {
  /** The data files written, in order. */
  files: string[];
  /** The index written, or null for a single-file checkpoint. */
  indexFile: string | null;
  /** Sum of the tensors' byte sizes (the index's `total_size`). */
  totalSize: number;
}

function requireFileName(fileName: unknown): string {
  if (typeof fileName !== "string" || !fileName.endsWith(".safetensors") || basename(fileName) !== fileName) {
    throw new Error(
      `checkpoint: fileName must be a plain file name ending in ".safetensors", got ${JSON.stringify(fileName)}`,
    );
  }
  return fileName;
}

/** transformers' shard name: "model.safetensors" → "model-00001-of-00003.safetensors". */
export function shardFileName(fileName: string, index: number, count: number): string {
  requireFileName(fileName);
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 1 || index > count) {
    throw new Error(`shardFileName: need 1 ≤ index ≤ count, got index ${index}, count ${count}`);
  }
  const pad = (n: number) => String(n).padStart(5, "0");
  return fileName.replace(/\.safetensors$/, `-${pad(index)}-of-${pad(count)}.safetensors`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

async function readIndex(indexFile: string): Promise<Map<string, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(indexFile, "utf8"));
  } catch (e) {
    throw new SafetensorsError(indexFile, `cannot read the checkpoint index: ${(e as Error).message}`);
  }
  if (!isPlainObject(parsed) || !isPlainObject(parsed.weight_map)) {
    throw new SafetensorsError(indexFile, `checkpoint index must be an object with a "weight_map" object`);
  }
  if (parsed.metadata !== undefined) {
    // total_size is informational: tools disagree on what it counts (tied weights, quantisation
    // state), and transformers itself never checks it, so only its type is validated.
    const totalSize = isPlainObject(parsed.metadata) ? parsed.metadata.total_size : undefined;
    if (
      !isPlainObject(parsed.metadata) ||
      (totalSize !== undefined && !(Number.isSafeInteger(totalSize) && (totalSize as number) >= 0))
    ) {
      throw new SafetensorsError(indexFile, `"metadata" must be an object whose "total_size" is a byte count`);
    }
  }
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(parsed.weight_map)) {
    if (typeof shard !== "string" || shard.length === 0 || basename(shard) !== shard || shard === "..") {
      throw new SafetensorsError(
        indexFile,
        `weight_map["${name}"] must be the plain file name of a shard in the same directory, got ${JSON.stringify(shard)}`,
      );
    }
    weightMap.set(name, shard);
  }
  return weightMap;
}

/**
 * Parses every header of the checkpoint in `dir` and checks that index and shards agree, reading no
 * tensor data. Like transformers, a single `model.safetensors` wins over an index.
 */
export async function readCheckpointHeaders(
  dir: string,
  options: { fileName?: string } = {},
): Promise<CheckpointHeaders> {
  if (typeof dir !== "string" || dir.length === 0) {
    throw new Error(`checkpoint: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
  }
  const fileName = requireFileName(options.fileName ?? SAFE_WEIGHTS_NAME);
  const single = join(dir, fileName);
  const indexFile = join(dir, `${fileName}.index.json`);
  const tensors = new Map<string, CheckpointTensorLocation>();

  if (await isFile(single)) {
    const header = await readSafetensorsHeader(single);
    for (const [name, info] of header.tensors) tensors.set(name, { file: single, info });
    return { layout: "single", files: [single], indexFile: null, tensors };
  }
  if (!(await isFile(indexFile))) {
    throw new SafetensorsError(dir, `no checkpoint here: neither ${fileName} nor ${fileName}.index.json exists`);
  }

  const weightMap = await readIndex(indexFile);
  const shards = [...new Set(weightMap.values())].sort();
  const headers = new Map<string, SafetensorsHeader>();
  for (const shard of shards) {
    const path = join(dir, shard);
    if (!(await isFile(path))) {
      const example = [...weightMap].find(([, s]) => s === shard)![0];
      throw new SafetensorsError(
        indexFile,
        `shard ${shard} (listed for tensor "${example}" and others) does not exist in ${dir}`,
      );
    }
    headers.set(shard, await readSafetensorsHeader(path));
  }
  for (const [name, shard] of weightMap) {
    const info = headers.get(shard)!.tensors.get(name);
    if (info === undefined) {
      throw new SafetensorsError(
        join(dir, shard),
        `tensor "${name}" is listed in ${basename(indexFile)} for this shard but the shard does not contain it`,
      );
    }
  }
  for (const [shard, header] of headers) {
    for (const [name, info] of header.tensors) {
      const listed = weightMap.get(name);
      if (listed === undefined) {
        throw new SafetensorsError(header.file, `shard holds a tensor that ${basename(indexFile)} does not list`, {
          tensor: name,
          byteOffset: info.byteOffset,
        });
      }
      if (listed !== shard) {
        throw new SafetensorsError(
          header.file,
          `tensor is in two shards: here and in ${listed} (where the index points)`,
          {
            tensor: name,
            byteOffset: info.byteOffset,
          },
        );
      }
      tensors.set(name, { file: header.file, info });
    }
  }
  return { layout: "sharded", files: shards.map((s) => join(dir, s)), indexFile, tensors };
}

/** Reads the F32/F16/BF16 tensors of a checkpoint directory (single file or sharded). */
export async function readCheckpointTensors(
  dir: string,
  options: ReadCheckpointOptions = {},
): Promise<Map<string, SafetensorsTensor>> {
  const checkpoint = await readCheckpointHeaders(
    dir,
    options.fileName === undefined ? {} : { fileName: options.fileName },
  );
  let wanted: string[];
  if (options.names === undefined) {
    wanted = [...checkpoint.tensors.keys()];
  } else {
    if (!Array.isArray(options.names)) throw new Error("readCheckpointTensors: options.names must be an array");
    const missing = options.names.filter((n) => !checkpoint.tensors.has(n));
    if (missing.length > 0) {
      throw new SafetensorsError(
        checkpoint.indexFile ?? checkpoint.files[0]!,
        `checkpoint has no tensor named ${missing
          .slice(0, 5)
          .map((n) => JSON.stringify(n))
          .join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`,
      );
    }
    wanted = [...new Set(options.names)];
  }
  const byFile = new Map<string, string[]>();
  for (const name of wanted) {
    const { file } = checkpoint.tensors.get(name)!;
    const list = byFile.get(file) ?? [];
    list.push(name);
    byFile.set(file, list);
  }
  const out = new Map<string, SafetensorsTensor>();
  for (const file of checkpoint.files) {
    const names = byFile.get(file);
    if (names === undefined) continue;
    const header = await readSafetensorsHeader(file);
    for (const [name, tensor] of await readSafetensorsWithHeader(header, names)) out.set(name, tensor);
  }
  return out;
}

/**
 * Splits tensors (in the caller's order, i.e. state-dict order) into shards as huggingface_hub's
 * `split_torch_state_dict_into_shards` does: greedily, starting a new shard when the next tensor would
 * push the current one past the limit; a tensor larger than the limit gets a shard of its own,
 * inserted before the shard being filled.
 */
export function planShards<T extends { byteLength: number }>(tensors: readonly T[], maxShardBytes: number): T[][] {
  const shards: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const t of tensors) {
    if (t.byteLength > maxShardBytes) {
      shards.push([t]);
      continue;
    }
    if (currentBytes + t.byteLength > maxShardBytes && current.length > 0) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(t);
    currentBytes += t.byteLength;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

/** transformers' index JSON: `json.dumps(index, indent=2, sort_keys=True) + "\n"` (ASCII-escaped). */
function indexJson(totalSize: number, weightMap: Map<string, string>): string {
  // Written by hand rather than with JSON.stringify(object): an object would reorder integer-like keys.
  const ascii = (s: string) =>
    JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const sorted = [...weightMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const entries = sorted.map(([name, shard]) => `    ${ascii(name)}: ${ascii(shard)}`).join(",\n");
  return `{\n  "metadata": {\n    "total_size": ${totalSize}\n  },\n  "weight_map": {\n${entries}\n  }\n}\n`;
}

/**
 * Writes tensors as a checkpoint in `dir` (created if needed): one `fileName` when everything fits
 * in `maxShardBytes`, else shards and an index. Files of an earlier save under the same base name that
 * the new one does not use (old shards, a stale single file or index) are removed, as transformers
 * does, so that the directory holds exactly one checkpoint.
 */
export async function writeCheckpointTensors(
  dir: string,
  tensors: TensorsInput,
  options: WriteCheckpointOptions = {},
): Promise<WrittenCheckpoint> {
  if (typeof dir !== "string" || dir.length === 0) {
    throw new Error(`writeCheckpointTensors: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
  }
  const fileName = requireFileName(options.fileName ?? SAFE_WEIGHTS_NAME);
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes < 1) {
    throw new Error(`writeCheckpointTensors: maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  const metadata = { ...validateMetadata(dir, options.metadata), format: "pt" };
  const prepared = prepareTensors(join(dir, fileName), tensors);
  await mkdir(dir, { recursive: true });

  const shards = planShards(prepared, maxShardBytes);
  const totalSize = prepared.reduce((s, t) => s + t.byteLength, 0);
  const written: string[] = [];
  let indexFile: string | null = null;
  if (shards.length <= 1) {
    const file = join(dir, fileName);
    await writePreparedSafetensors(file, shards[0] ?? [], metadata);
    written.push(file);
  } else {
    const weightMap = new Map<string, string>();
    for (let i = 0; i < shards.length; i++) {
      const name = shardFileName(fileName, i + 1, shards.length);
      const file = join(dir, name);
      await writePreparedSafetensors(file, shards[i]!, metadata);
      for (const t of shards[i]!) weightMap.set(t.name, name);
      written.push(file);
    }
    indexFile = join(dir, `${fileName}.index.json`);
    await writeFile(indexFile, indexJson(totalSize, weightMap));
  }
  await removeStaleFiles(
    dir,
    fileName,
    new Set([...written, ...(indexFile ? [indexFile] : [])].map((f) => basename(f))),
  );
  return { files: written, indexFile, totalSize };
}

async function removeStaleFiles(dir: string, fileName: string, keep: Set<string>): Promise<void> {
  const stem = fileName.replace(/\.safetensors$/, "");
  const escaped = stem.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const shardPattern = new RegExp(`^${escaped}-\\d{5}-of-\\d{5}\\.safetensors$`);
  for (const entry of await readdir(dir)) {
    if (keep.has(entry)) continue;
    if (entry === fileName || entry === `${fileName}.index.json` || shardPattern.test(entry)) {
      await unlink(join(dir, entry));
    }
  }
}
