import type { Llama3RopeScaling } from "@revela/kernels";

/**
 * A decoder's configuration in our names. Built from a Hugging Face `config.json` by an
 * architecture's parser (see architectures/), written back with `toHfConfig`.
 */
export interface ModelConfig {
  /** The Hugging Face `architectures[0]`, e.g. "LlamaForCausalLM". */
  architecture: string;
  /** The Hugging Face `model_type`, e.g. "llama". */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** Bias on q, k, v projections (Qwen2 always; LLaMA with `attention_bias`). */
  qkvBias: boolean;
  /** Bias on the output projection (LLaMA `attention_bias`; never in Qwen2). */
  oBias: boolean;
  maxPositionEmbeddings: number;
  /** Std of the normal used by random initialisation (`initializer_range`). */
  initializerRange: number;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  /** Fields of the original config.json that we keep verbatim so `save` writes them back. */
  extra: Record<string, unknown>;
}

/** Reads typed fields out of a raw config.json object; every error names the field and the file. */
export class ConfigReader {
  readonly used = new Set<string>();
  constructor(
    readonly raw: Record<string, unknown>,
    readonly source: string,
  ) {}

  private fail(field: string, wanted: string): never {
    throw new Error(`${this.source}: field "${field}" must be ${wanted}, got ${JSON.stringify(this.raw[field])}`);
  }

  has(field: string): boolean {
    return this.raw[field] !== undefined && this.raw[field] !== null;
  }

  int(field: string, fallback?: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
    this.used.add(field);
    const v = this.raw[field];
    const wanted = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, `${wanted} (required)`);
    }
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) this.fail(field, wanted);
    return v;
  }

  positive(field: string, fallback?: number): number {
    this.used.add(field);
    const v = this.raw[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, "a positive number (required)");
    }
    if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) this.fail(field, "a positive number");
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    this.used.add(field);
    const v = this.raw[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") this.fail(field, "true or false");
    return v;
  }

  string(field: string, fallback?: string): string {
    this.used.add(field);
    const v = this.raw[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, "a string (required)");
    }
    if (typeof v !== "string") this.fail(field, "a string");
    return v;
  }

  tokenId(field: string): number | null {
    this.used.add(field);
    const v = this.raw[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) this.fail(field, "a token id (integer ≥ 0) or null");
    return v;
  }

  tokenIds(field: string): number | number[] | null {
    this.used.add(field);
    const v = this.raw[field];
    if (Array.isArray(v)) {
      if (!v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0)) this.fail(field, "token ids");
      return v as number[];
    }
    return this.tokenId(field);
  }

  /** Accepts a field only with one of the given values (what we can honour); marks it used. */
  only(field: string, allowed: unknown[], why: string): void {
    this.used.add(field);
    const v = this.raw[field];
    if (v === undefined) return;
    if (!allowed.some((a) => a === v)) {
      throw new Error(
        `${this.source}: field "${field}" = ${JSON.stringify(v)} is not supported (${why}); supported: ${allowed.map((a) => JSON.stringify(a)).join(", ")}`,
      );
    }
  }

  ropeScaling(): Llama3RopeScaling | null {
    this.used.add("rope_scaling");
    const v = this.raw.rope_scaling;
    if (v === undefined || v === null) return null;
    if (typeof v !== "object" || Array.isArray(v)) this.fail("rope_scaling", "an object or null");
    const rs = v as Record<string, unknown>;
    const type = rs.rope_type ?? rs.type;
    if (type === "default") return null;
    if (type !== "llama3") {
      throw new Error(
        `${this.source}: field "rope_scaling" has rope_type ${JSON.stringify(type)}; only "llama3" (and "default") are supported`,
      );
    }
    const num = (k: string) => {
      const x = rs[k];
      if (typeof x !== "number" || !(x > 0))
        throw new Error(
          `${this.source}: field "rope_scaling.${k}" must be a positive number, got ${JSON.stringify(x)}`,
        );
      return x;
    };
    return {
      ropeType: "llama3",
      factor: num("factor"),
      lowFreqFactor: num("low_freq_factor"),
      highFreqFactor: num("high_freq_factor"),
      originalMaxPositionEmbeddings: num("original_max_position_embeddings"),
    };
  }

  /** The fields nobody read, for `extra`. */
  unused(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.raw).filter(([k]) => !this.used.has(k)));
  }
}

/**
 * Upper bounds of config.json sizes, checked before anything is allocated: a corrupt or hostile
 * config (`num_hidden_layers: 1000000000`) must fail naming the field, not run the process out of
 * memory building parameter lists. Each is far above any released model (Llama-3.1-405B: 126
 * layers, hidden 16384, ffn 53248, 128 heads; the largest vocabularies are ~256k).
 */
export const CONFIG_LIMITS = {
  vocab_size: 1 << 22,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 18,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 1024,
  max_position_embeddings: 1 << 24,
} as const;

/** tfjs backends index tensors with int32, so no parameter may have 2^31 elements or more. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** The shared LLaMA-family reading; architectures adjust the result. */
export function readLlamaFamilyConfig(
  reader: ConfigReader,
  architecture: string,
  modelType: string,
): Omit<ModelConfig, "qkvBias" | "oBias" | "extra"> {
  const L = CONFIG_LIMITS;
  const hiddenSize = reader.int("hidden_size", undefined, 1, L.hidden_size);
  const numAttentionHeads = reader.int("num_attention_heads", undefined, 1, L.num_attention_heads);
  if (hiddenSize % numAttentionHeads !== 0 && !reader.has("head_dim")) {
    throw new Error(
      `${reader.source}: hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numAttentionHeads}) and no head_dim is given`,
    );
  }
  const numKeyValueHeads = reader.int("num_key_value_heads", numAttentionHeads, 1, L.num_key_value_heads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new Error(
      `${reader.source}: num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  const headDim = reader.int("head_dim", hiddenSize / numAttentionHeads, 1, L.head_dim);
  if (headDim % 2 !== 0) throw new Error(`${reader.source}: head_dim (${headDim}) must be even for rotary embeddings`);
  reader.only("hidden_act", ["silu"], "the MLP is SwiGLU with SiLU");
  reader.only("model_type", [modelType], `this is the ${architecture} parser`);
  reader.only("mlp_bias", [false], "LLaMA-family MLPs here have no biases");
  reader.only("attention_dropout", [0, 0.0], "attention dropout is not implemented");
  reader.used.add("architectures");
  const vocabSize = reader.int("vocab_size", undefined, 1, L.vocab_size);
  const intermediateSize = reader.int("intermediate_size", undefined, 1, L.intermediate_size);
  // The largest matrices: the embedding table, the MLP projections and the attention projections.
  const largest: [string, number][] = [
    ["vocab_size × hidden_size", vocabSize * hiddenSize],
    ["intermediate_size × hidden_size", intermediateSize * hiddenSize],
    ["num_attention_heads × head_dim × hidden_size", numAttentionHeads * headDim * hiddenSize],
  ];
  for (const [what, elements] of largest) {
    if (elements > MAX_TENSOR_ELEMENTS) {
      throw new Error(
        `${reader.source}: ${what} = ${elements} elements in one tensor; at most ${MAX_TENSOR_ELEMENTS} are possible`,
      );
    }
  }
  return {
    architecture,
    modelType,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numHiddenLayers: reader.int("num_hidden_layers", undefined, 1, L.num_hidden_layers),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    ropeTheta: reader.positive("rope_theta", 10000),
    ropeScaling: reader.ropeScaling(),
    rmsNormEps: reader.positive("rms_norm_eps", 1e-6),
    tieWordEmbeddings: reader.bool("tie_word_embeddings", false),
    maxPositionEmbeddings: reader.int("max_position_embeddings", 2048, 1, L.max_position_embeddings),
    initializerRange: reader.positive("initializer_range", 0.02),
    bosTokenId: reader.tokenId("bos_token_id"),
    eosTokenId: reader.tokenIds("eos_token_id"),
    padTokenId: reader.tokenId("pad_token_id"),
  };
}

/** Our config as a Hugging Face config.json object (unknown original fields preserved). */
export function toHfConfigBase(c: ModelConfig): Record<string, unknown> {
  return {
    ...c.extra,
    architectures: [c.architecture],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    hidden_act: "silu",
    rope_theta: c.ropeTheta,
    rope_scaling: c.ropeScaling
      ? {
          rope_type: "llama3",
          factor: c.ropeScaling.factor,
          low_freq_factor: c.ropeScaling.lowFreqFactor,
          high_freq_factor: c.ropeScaling.highFreqFactor,
          original_max_position_embeddings: c.ropeScaling.originalMaxPositionEmbeddings,
        }
      : null,
    rms_norm_eps: c.rmsNormEps,
    tie_word_embeddings: c.tieWordEmbeddings,
    max_position_embeddings: c.maxPositionEmbeddings,
    initializer_range: c.initializerRange,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
  };
}
