import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { getArchitecture, parseModelConfig } from "../architectures/registry.js";
import { enableLora, linearModules, moduleFromPeftName, moduleWeightShape, peftTensorName } from "../lora/lora.js";
import { isLoraTarget, type LoraConfig, parseLoraConfig, toPeftConfig } from "../lora/loraConfig.js";
import { CausalLM, checkParameterShapes } from "../model/causalLM.js";
import { hostWeightValues, moveToJsMemory } from "../model/hostWeights.js";
import {
  type CheckpointHeaders,
  readCheckpointHeaders,
  readCheckpointTensors,
  writeCheckpointTensors,
} from "../safetensors/checkpoint.js";
import {
  readSafetensorsHeader,
  readSafetensorsRawWithHeader,
  readSafetensorsWithHeader,
} from "../safetensors/readSafetensors.js";
import { writeSafetensors } from "../safetensors/writeSafetensors.js";

export const CONFIG_FILE = "config.json";
export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";

function readJson(file: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

export interface LoadOptions {
  /** Load without the LM head (the retriever's backbone). */
  backbone?: boolean;
  /** A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) to apply. */
  adapter?: string;
  /**
   * Keep the decoder layers' weights frozen in JavaScript memory, in the checkpoint's dtype (BF16:
   * 2 bytes a parameter), instead of float32 tensors in the backend's memory (the 4 GiB wasm heap),
   * and bring each layer in only while it runs (CausalLM.fromTensors). The model is a frozen base:
   * train it through LoRA adapters. Embeddings, the final norm and the LM head stay resident.
   */
  offloadLayers?: boolean;
}

/**
 * Loads a Hugging Face checkpoint directory: config.json plus model.safetensors or a sharded
 * model.safetensors.index.json. Tensor names, shapes and the config must agree exactly.
 */
export async function loadPretrained(dir: string, options: LoadOptions = {}): Promise<CausalLM> {
  if (typeof dir !== "string" || !dir) throw new Error("loadPretrained: dir must be a directory path");
  const offloadLayers = options.offloadLayers ?? false;
  if (typeof offloadLayers !== "boolean") {
    throw new Error(
      `loadPretrained: options.offloadLayers must be true or false, got ${JSON.stringify(offloadLayers)}`,
    );
  }
  const configFile = path.join(dir, CONFIG_FILE);
  const config = parseModelConfig(readJson(configFile), configFile);
  const backbone = options.backbone ?? false;
  // Names and shapes from the headers first: a config that disagrees with the checkpoint fails
  // before any tensor data is read.
  const headers = await readCheckpointHeaders(dir);
  const shapes = new Map([...headers.tensors].map(([name, { info }]) => [name, { shape: info.shape }]));
  checkParameterShapes(config, shapes, { backbone, source: dir });
  const tensors = offloadLayers ? await readOffloadable(headers) : await readCheckpointTensors(dir);
  const model = CausalLM.fromTensors(config, tensors, {
    backbone,
    source: dir,
    offloadLayers,
  });
  if (options.adapter) await loadLoraAdapter(model, options.adapter);
  return model;
}

/**
 * A checkpoint's tensors for a model with offloaded layers: F16/BF16 decoder-layer weights as their
 * stored 16-bit patterns, read straight into the arrays the model keeps (2 bytes a parameter, no
 * float32 copy); everything else as float32, as the resident weights need it. The load's peak is
 * then the offloaded layers as stored plus the resident weights' float32, instead of the whole
 * checkpoint's float32 plus a 16-bit copy of the layers.
 */
async function readOffloadable(
  headers: CheckpointHeaders,
): Promise<Map<string, { shape: number[]; data: Float32Array | Uint16Array; dtype: "F32" | "F16" | "BF16" }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array | Uint16Array; dtype: "F32" | "F16" | "BF16" }>();
  for (const file of headers.files) {
    const header = await readSafetensorsHeader(file);
    const half: string[] = [];
    const rest: string[] = [];
    for (const [name, info] of header.tensors) {
      const isHalf = info.dtype === "F16" || info.dtype === "BF16";
      (isHalf && name.startsWith("model.layers.") ? half : rest).push(name);
    }
    for (const [name, t] of await readSafetensorsRawWithHeader(header, half)) {
      const bits = new Uint16Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 2);
      out.set(name, { shape: t.shape, data: bits, dtype: t.dtype as "F16" | "BF16" });
    }
    for (const [name, t] of await readSafetensorsWithHeader(header, rest)) out.set(name, t);
  }
  return out;
}

export interface SaveOptions {
  /** Split into shards of at most this many bytes (transformers' naming and index). */
  maxShardBytes?: number;
}

/**
 * Writes config.json and the weights. Parameters keep the dtype they were loaded with (F32, F16,
 * BF16), so load → save reproduces the files' tensors bit for bit; new parameters are F32.
 * LoRA adapters, if any, are not merged: save them with `saveLoraAdapter`, or `mergeLora` first.
 */
export async function saveModel(model: CausalLM, dir: string, options: SaveOptions = {}): Promise<void> {
  if (typeof dir !== "string" || !dir) throw new Error("saveModel: dir must be a directory path");
  fs.mkdirSync(dir, { recursive: true });
  const arch = getArchitecture(model.config.architecture);
  fs.writeFileSync(path.join(dir, CONFIG_FILE), `${JSON.stringify(arch.toHfConfig(model.config), null, 2)}\n`);
  const tensors: Record<string, { shape: number[]; data: Float32Array; dtype: "F32" | "F16" | "BF16" }> = {};
  // In checkpoint order, whether a weight is resident or offloaded to JavaScript memory.
  for (const spec of model.parameterSpecs()) {
    const name = spec.name;
    const v = model.params.get(name);
    const host = model.offloaded.get(name);
    if (!v && !host) throw new Error(`saveModel: parameter "${name}" is missing (model disposed?)`);
    tensors[name] = {
      shape: [...spec.shape],
      data: v ? ((await v.data()) as Float32Array) : hostWeightValues(host!),
      dtype: model.sourceDtypes.get(name) ?? "F32",
    };
  }
  await writeCheckpointTensors(dir, tensors, {
    ...(options.maxShardBytes ? { maxShardBytes: options.maxShardBytes } : {}),
    metadata: { format: "pt" },
  });
}

/**
 * Applies a PEFT LoRA adapter directory to the model: adapter_config.json and
 * adapter_model.safetensors with PEFT's tensor names (`base_model.model.<module>.lora_A.weight`).
 * Every targeted module must have both matrices with shapes [r, in] and [out, r].
 */
export async function loadLoraAdapter(model: CausalLM, dir: string): Promise<LoraConfig> {
  const configFile = path.join(dir, ADAPTER_CONFIG_FILE);
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS_FILE);
  const config = parseLoraConfig(readJson(configFile), configFile);
  if (model.lora.size)
    throw new Error("loadLoraAdapter: the model already has LoRA adapters (merge or remove them first)");
  // Names and shapes from the header first: a file that does not fit the model and its config fails
  // before any adapter is allocated or any tensor read, and leaves the model as it was.
  const header = await readSafetensorsHeader(weightsFile);
  const targets = linearModules(model).filter((m) => isLoraTarget(config, m));
  if (!targets.length) {
    throw new Error(
      `${configFile}: target_modules ${JSON.stringify(config.targetModules)} match no linear module of ${model.config.architecture}`,
    );
  }
  const expected = new Map<string, number[]>();
  for (const module of targets) {
    const [out, inp] = moduleWeightShape(model, module);
    expected.set(`${module}.A`, [config.r, inp]);
    expected.set(`${module}.B`, [out, config.r]);
  }
  const seen = new Set<string>();
  for (const [name, info] of header.tensors) {
    const parsed = moduleFromPeftName(name);
    if (!parsed)
      throw new Error(
        `${weightsFile}: tensor "${name}" is not a PEFT LoRA weight (expected base_model.model.<module>.lora_A.weight)`,
      );
    const shape = expected.get(`${parsed.module}.${parsed.which}`);
    if (!shape) {
      throw new Error(
        `${weightsFile}: tensor "${name}" is for module ${parsed.module}, which target_modules ${JSON.stringify(config.targetModules)} in ${configFile} does not select`,
      );
    }
    if (info.shape.length !== 2 || info.shape[0] !== shape[0] || info.shape[1] !== shape[1]) {
      throw new Error(
        `${weightsFile}: tensor "${name}" has shape [${info.shape.join(", ")}], expected [${shape.join(", ")}] (r = ${config.r})`,
      );
    }
    seen.add(`${parsed.module}.${parsed.which}`);
  }
  const missing = targets.flatMap((m) =>
    ["A", "B"].filter((w) => !seen.has(`${m}.${w}`)).map((w) => peftTensorName(m, w as "A" | "B", model.backbone)),
  );
  if (missing.length) {
    throw new Error(
      `${weightsFile}: missing LoRA tensors: ${missing.slice(0, 6).join(", ")}${missing.length > 6 ? ` (+${missing.length - 6} more)` : ""}`,
    );
  }
  const tensors = await readSafetensorsWithHeader(header);
  enableLora(model, config);
  for (const [name, t] of tensors) {
    const parsed = moduleFromPeftName(name)!;
    const adapter = model.lora.get(parsed.module)!;
    const target = parsed.which === "A" ? adapter.a : adapter.b;
    tf.tidy(() => target.assign(tf.tensor(t.data, target.shape as [number, number])));
    // assign put the loaded values into the heap; a model with offloaded layers keeps them in
    // JavaScript memory, each moved out right away so that the heap holds one at a time.
    if (model.adaptersInJsMemory) moveToJsMemory(target);
  }
  return config;
}

/** Writes the model's LoRA adapters as a PEFT adapter directory. */
export async function saveLoraAdapter(model: CausalLM, dir: string, config: LoraConfig): Promise<void> {
  if (!model.lora.size) throw new Error("saveLoraAdapter: the model has no LoRA adapters");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(toPeftConfig(config), null, 2)}\n`);
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [module, adapter] of model.lora) {
    tensors[peftTensorName(module, "A", model.backbone)] = {
      shape: adapter.a.shape,
      data: (await adapter.a.data()) as Float32Array,
    };
    tensors[peftTensorName(module, "B", model.backbone)] = {
      shape: adapter.b.shape,
      data: (await adapter.b.data()) as Float32Array,
    };
  }
  await writeSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: "pt" });
}
