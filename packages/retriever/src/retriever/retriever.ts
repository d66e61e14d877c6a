import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";
import {
  CausalLM,
  CompactTokenizer,
  enableLora,
  type LoraConfig,
  type TextTokenizer,
  TOKENIZER_FILE,
  Tokenizer,
} from "@revela/language-model";
import { DenseEncoder, type EncodeOptions } from "../encoder/denseEncoder.js";
import type { EncoderOptions } from "../encoder/encoderOptions.js";
import type { EmbeddingMatrix } from "../matrix/embeddingMatrix.js";

export interface RetrieverParts {
  /** The encoder's transformer (a backbone without LM head, or a full CausalLM whose head is unused). */
  backbone: CausalLM;
  tokenizer: TextTokenizer;
  options?: Partial<EncoderOptions>;
  /** The config of the backbone's LoRA adapters, if it has any (saving writes it as adapter_config.json). */
  lora?: LoraConfig | null;
  /**
   * Directory holding tokenizer.json (and tokenizer_config.json), copied into a saved retriever.
   * Default: the directory the tokenizer was read from, when it came from `Tokenizer.fromDir`.
   */
  tokenizerDir?: string | null;
}

export interface CreateRetrieverOptions {
  /** A config.json object for the backbone (LlamaForCausalLM, Qwen2ForCausalLM). */
  config: Record<string, unknown>;
  tokenizer: TextTokenizer;
  options?: Partial<EncoderOptions>;
  /** Seed of the random initialisation (default 0). */
  seed?: number;
  tokenizerDir?: string | null;
}

export type TextEncodeOptions = Omit<EncodeOptions, "kind">;

/**
 * A dense retriever: backbone + tokenizer + encoder options, the unit that is trained, saved and
 * loaded. `encodeQueries` / `encodePassages` give [n, d] float32 matrices for the search indexes;
 * `encoder.embed` is the differentiable path the trainer uses.
 */
export class Retriever {
  readonly encoder: DenseEncoder;
  readonly tokenizer: TextTokenizer;
  /** Where tokenizer.json lives, for saving; null when unknown. */
  readonly tokenizerDir: string | null;
  private loraConfig: LoraConfig | null;

  constructor(parts: RetrieverParts) {
    const op = "Retriever";
    if (typeof parts !== "object" || parts === null)
      throw new Error(`${op}: expected { backbone, tokenizer, options }`);
    const { backbone, tokenizer } = parts;
    if (!(backbone instanceof CausalLM))
      throw new Error(`${op}: backbone must be a CausalLM from @revela/language-model`);
    if (typeof tokenizer?.encode !== "function" || !Number.isInteger(tokenizer.vocabSize)) {
      throw new Error(`${op}: tokenizer must be a TextTokenizer (Tokenizer or CompactTokenizer)`);
    }
    if (tokenizer.vocabSize > backbone.config.vocabSize) {
      throw new Error(
        `${op}: the tokenizer has ${tokenizer.vocabSize} ids but the backbone's embedding table has ${backbone.config.vocabSize} rows` +
          " (a large vocabulary with a small model needs a VocabularyCompaction)",
      );
    }
    const options = { ...parts.options };
    const maxPositions = backbone.config.maxPositionEmbeddings;
    if (options.maxLength === undefined) options.maxLength = Math.min(512, maxPositions);
    if (options.maxLength > maxPositions) {
      throw new Error(
        `${op}: options.maxLength ${options.maxLength} exceeds the backbone's max_position_embeddings ${maxPositions}`,
      );
    }
    const lora = parts.lora ?? null;
    if (backbone.lora.size > 0 && lora === null) {
      throw new Error(
        `${op}: the backbone has LoRA adapters; pass their config as parts.lora (it is needed to save them)`,
      );
    }
    if (backbone.lora.size === 0 && lora !== null) {
      throw new Error(`${op}: parts.lora is given but the backbone has no LoRA adapters (use retriever.enableLora)`);
    }
    this.encoder = new DenseEncoder(backbone, tokenizer, options);
    this.tokenizer = tokenizer;
    this.loraConfig = lora;
    this.tokenizerDir = parts.tokenizerDir === undefined ? inferTokenizerDir(tokenizer) : parts.tokenizerDir;
  }

  /** A retriever with a randomly initialised backbone (no LM head), for training from scratch. */
  static create(options: CreateRetrieverOptions): Retriever {
    const backbone = CausalLM.create(options.config, { seed: options.seed ?? 0, backbone: true });
    return new Retriever({
      backbone,
      tokenizer: options.tokenizer,
      ...(options.options ? { options: options.options } : {}),
      ...(options.tokenizerDir !== undefined ? { tokenizerDir: options.tokenizerDir } : {}),
    });
  }

  get backbone(): CausalLM {
    return this.encoder.backbone;
  }

  get options(): EncoderOptions {
    return this.encoder.options;
  }

  /** Embedding size d. */
  get dimensions(): number {
    return this.backbone.config.hiddenSize;
  }

  /** The LoRA config of the backbone's adapters, or null. */
  get lora(): LoraConfig | null {
    return this.loraConfig;
  }

  /** Adds fresh LoRA adapters to the backbone and freezes its weights (only the adapters train). */
  enableLora(config: LoraConfig, options: { seed?: number } = {}): string[] {
    const modules = enableLora(this.backbone, config, options);
    this.loraConfig = config;
    return modules;
  }

  /** [n, d] embeddings of queries ("query: " + text), in input order. */
  encodeQueries(texts: readonly string[], options: TextEncodeOptions = {}): Promise<EmbeddingMatrix> {
    return this.encoder.encode(texts, { ...options, kind: "query" });
  }

  /** [n, d] embeddings of passages ("passage: " + text), in input order. */
  encodePassages(texts: readonly string[], options: TextEncodeOptions = {}): Promise<EmbeddingMatrix> {
    return this.encoder.encode(texts, { ...options, kind: "passage" });
  }

  /** Releases the backbone's tensors. */
  dispose(): void {
    this.backbone.dispose();
  }
}

/** The directory of a tokenizer read by Tokenizer.fromDir (its source is `<dir>/tokenizer.json`). */
function inferTokenizerDir(tokenizer: TextTokenizer): string | null {
  const base = tokenizer instanceof CompactTokenizer ? tokenizer.base : tokenizer;
  if (!(base instanceof Tokenizer)) return null;
  return basename(base.source) === TOKENIZER_FILE && existsSync(base.source) ? dirname(base.source) : null;
}
