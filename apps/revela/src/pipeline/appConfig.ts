import {
  CROSS_ATTENTION_OPTIONS,
  type CrossAttentionImplementation,
  type SimilarityPrecision,
} from "@revela/inbatch-attention";
import { checkOption } from "@revela/kernels";
import {
  type JsonObject,
  LR_SCHEDULE_OPTIONS,
  PAPER_RECIPE,
  resolveRunConfig,
  type WarmupShape,
} from "@revela/trainer";
import { getConfigPath } from "../config/configPath.js";
import { APP_CONFIG_OPTIONS } from "./appConfigOptions.js";

/**
 * Everything the default pipeline does is set here; `revela train` flags and `--config` files
 * override it key by key (unknown keys are errors). Defaults are sized for a 2-core CPU and a
 * 20-minute budget: a small from-scratch LLaMA with a compacted Llama-3 vocabulary.
 */
export interface AppConfig {
  /**
   * The preset under the config file and flags: `paper` = the official recipe (PAPER_RECIPE of
   * @revela/trainer: τ 1e-4, bf16 similarities, LoRA r 256 / alpha 64 / dropout 0.1, lr 1e-4 for
   * both models, no weight decay, log warm-up over 100 updates then linear decay, 32 batches per
   * update, BM25-neighbour groups, 157/156-token views); `scratch` = settings for a small
   * from-scratch model on a CPU budget. null = `paper` with --model, `scratch` without.
   */
  recipe: "paper" | "scratch" | null;
  /** BEIR dataset directory; null = the SciFact copy embedded in the app. */
  data: string | null;
  split: string;
  /** Output directory: results.json, report.html, runs/, retriever/. */
  out: string;
  seed: number;
  /** Force a backend (tensorflow-gpu, tensorflow, wasm, cpu); null = best available. */
  backend: string | null;
  threads: number | null;
  /** Whole-pipeline budget in minutes; training gets what evaluation leaves. */
  minutes: number;
  model: {
    /** A local Hugging Face LLaMA/Qwen2 directory; null = from scratch. */
    dir: string | null;
    /** LoRA on a pretrained model (as the paper: r 256 on q,k,v,o,gate,up,down); r 0 = full fine-tuning. */
    loraR: number;
    loraAlpha: number;
    /** LoRA dropout, active in training steps (official 0.1). */
    loraDropout: number;
    loraTargets: string[];
    /** From-scratch shape. */
    hiddenSize: number;
    layers: number;
    heads: number;
    kvHeads: number;
    ffn: number;
    /** Corpus tokens seen fewer times go to the unknown bucket of the compact vocabulary. */
    minTokenCount: number;
    /**
     * From-scratch LM only: start every attention layer as a copy of what it reads, v/o = identity
     * times this scale (0 = the usual random init). A from-scratch LM trained for minutes does not
     * use other chunks, which leaves Revela's gradient through W without signal; a copying LM does
     * from step 0 (see apps/revela README, "What teaches the retriever"). Not part of the paper.
     */
    copyAttention: number;
    /**
     * From-scratch LM only: a folder with pretrained weights (`model.safetensors`) and the compact
     * vocabulary they were trained with (`vocab_compaction.json`, used instead of one computed
     * from the corpus); null = random init. See pipeline/lmInit.ts.
     */
    lmInit: string | null;
    /** Retriever pooling: `eos` (the paper's: the last token, after EOS) or `mean` over real tokens. */
    pooling: "eos" | "mean";
  };
  train: {
    /** Step cap (the time budget usually stops training first). */
    steps: number;
    batchSize: number;
    /** Batches per optimizer update, each its own in-batch group (official 32). */
    accumulationSteps: number;
    /** `consecutive`: consecutive chunks of documents; `bm25`: a chunk and its BM25 neighbours from other documents (official). */
    batching: "consecutive" | "bm25";
    chunkWords: number;
    /** LM input: BOS + text cut to this many tokens (official 156). */
    maxLmTokens: number;
    /** Retriever training views: tokens including prefix and EOS (official 157). */
    maxRetrieverTokens: number;
    /**
     * τ of W = softmax(cos/τ). The paper's 1e-4 suits pretrained retrievers whose cosines spread; a
     * from-scratch retriever's cosines start nearly equal, and so tiny a τ would make W one-hot
     * with a vanishing gradient — hence a larger default here.
     */
    temperature: number;
    /** cos(q, p) before /τ: `bf16` rounds as the official bf16 run does (W one-hot or exact ties at τ 1e-4). */
    similarityPrecision: SimilarityPrecision;
    implementation: CrossAttentionImplementation;
    topK: number;
    valueNorm: boolean;
    dualLoss: boolean;
    retrieverLr: number;
    lmLr: number;
    weightDecay: number;
    /** Warm-up length in optimizer updates, and its shape (`log` = DeepSpeed's, the official one). */
    warmupSteps: number;
    warmup: WarmupShape;
    /** After warm-up: `constant`, or `linear` to 0 at the step cap (official; a time budget may stop first). */
    decay: "constant" | "linear";
    maxGradNorm: number;
    /** Train only the retriever; the LM keeps its initial weights and gets no warm-up. */
    freezeLm: boolean;
    /**
     * Share of the training time spent on plain next-token training of the LM before Revela starts
     * (from-scratch models only; a pretrained LM needs none). Until the LM can use other chunks, the
     * gradient through W carries no signal and only shakes the retriever.
     */
    lmWarmupShare: number;
    /**
     * What the LM warm-up trains: `plain` next-token prediction, or `inbatch` — Revela's two passes
     * with W fixed to each chunk's same-document siblings (free structure of raw text, no labels), so
     * that the LM learns to read related chunks before the retriever drives W.
     */
    lmWarmup: "plain" | "inbatch";
    /**
     * From-scratch models: start the retriever from its own random init ("random"), or from the
     * warmed-up LM's weights ("lm"), as the paper starts both from one pretrained LM. Measured on a
     * 60-query SciFact slice with a 6-minute budget: "lm" gives near-identical embeddings (W almost
     * uniform) and Revela nDCG@10 0.000, "random" 0.055 — a few minutes of LM training is no
     * pretrained model.
     */
    retrieverInit: "lm" | "random";
    /**
     * Each training phase checkpoints every this many steps, and after any step that ends this many
     * minutes after its last checkpoint: what a killed run loses, and `--resume` continues from.
     */
    checkpointEvery: number;
    checkpointMinutes: number;
  };
  baseline: {
    /** Train the contrastive (Contriever-style) baseline for as many steps as Revela took. */
    contrastive: boolean;
    temperature: number;
    lr: number;
  };
  eval: {
    /** Document tokens the retriever reads (prefix and EOS included). */
    maxDocTokens: number;
    batchSize: number;
    /** Also report BM25 + Revela reciprocal-rank fusion. */
    hybrid: boolean;
    /** Learning curves: evaluate on a fixed slice every this many training steps (0 = off). */
    curveEvery: number;
    /** The slice: this many judged queries (seeded), their relevant documents, and this many others. */
    curveQueries: number;
    curveDocuments: number;
  };
}

/**
 * The app's defaults — the `scratch` recipe — in one place. Ranges, choices and docs are in
 * appConfigOptions.ts; settings that keep their package's default read it from the package's
 * option schema, so that they have one default.
 */
export const DEFAULT_APP_CONFIG: AppConfig = {
  recipe: null,
  data: null,
  split: "test",
  out: "revela-output",
  seed: 0,
  backend: null,
  threads: null,
  minutes: 20,
  model: {
    dir: null,
    loraR: 0,
    loraAlpha: 16,
    loraDropout: 0,
    loraTargets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    hiddenSize: 128,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 344,
    minTokenCount: 5,
    copyAttention: 0,
    lmInit: null,
    pooling: "eos",
  },
  train: {
    steps: 2000,
    batchSize: 16,
    accumulationSteps: 1,
    batching: "consecutive",
    chunkWords: 120,
    maxLmTokens: 128,
    maxRetrieverTokens: 157,
    // The scratch recipe's τ (see AppConfig.train.temperature); the package's is the paper's 1e-4.
    temperature: 0.02,
    similarityPrecision: "float32",
    implementation: CROSS_ATTENTION_OPTIONS.implementation.default,
    topK: CROSS_ATTENTION_OPTIONS.topK.default,
    valueNorm: CROSS_ATTENTION_OPTIONS.valueNorm.default,
    dualLoss: false,
    retrieverLr: 1e-4,
    lmLr: 1e-3,
    weightDecay: 0.01,
    warmupSteps: 20,
    warmup: LR_SCHEDULE_OPTIONS.warmup.default,
    decay: "constant",
    maxGradNorm: 1,
    freezeLm: false,
    lmWarmupShare: 0.4,
    lmWarmup: "plain",
    retrieverInit: "random",
    checkpointEvery: 50,
    checkpointMinutes: 5,
  },
  baseline: { contrastive: true, temperature: 0.05, lr: 1e-4 },
  eval: { maxDocTokens: 256, batchSize: 32, hybrid: true, curveEvery: 60, curveQueries: 50, curveDocuments: 500 },
};

/** What the `paper` recipe sets (from PAPER_RECIPE); every other key keeps the app default. */
export const PAPER_PRESET = {
  model: {
    loraR: PAPER_RECIPE.lora.r,
    loraAlpha: PAPER_RECIPE.lora.alpha,
    loraDropout: PAPER_RECIPE.lora.dropout,
    loraTargets: [...PAPER_RECIPE.lora.targets],
  },
  train: {
    batchSize: PAPER_RECIPE.batchSize,
    accumulationSteps: PAPER_RECIPE.accumulationSteps,
    batching: PAPER_RECIPE.batching,
    maxLmTokens: PAPER_RECIPE.maxLmTokens,
    maxRetrieverTokens: PAPER_RECIPE.maxRetrieverTokens,
    temperature: PAPER_RECIPE.temperature,
    similarityPrecision: PAPER_RECIPE.similarityPrecision,
    implementation: "streaming", // the official all-pairs sum; dense's memory grows with B²
    valueNorm: PAPER_RECIPE.valueNorm,
    dualLoss: PAPER_RECIPE.dualLoss,
    retrieverLr: PAPER_RECIPE.retrieverLr,
    lmLr: PAPER_RECIPE.lmLr,
    weightDecay: PAPER_RECIPE.weightDecay,
    warmupSteps: PAPER_RECIPE.warmupSteps,
    warmup: PAPER_RECIPE.warmup,
    decay: PAPER_RECIPE.decay,
    maxGradNorm: PAPER_RECIPE.maxGradNorm,
    lmWarmupShare: 0,
  },
} as const;

/**
 * Defaults ← recipe preset ← config file ← `key.path=value` overrides (the CLI's flags), validated
 * by key and type. The recipe is itself a key: resolved once without a preset to learn it.
 */
export function resolveAppConfig(
  options: { file?: string; overrides?: string[]; values?: Record<string, unknown> } = {},
): AppConfig {
  const layers = {
    ...(options.file ? { file: options.file } : {}),
    ...(options.values ? { values: options.values as JsonObject } : {}),
    ...(options.overrides ? { overrides: options.overrides } : {}),
  };
  const first = resolveRunConfig(DEFAULT_APP_CONFIG as unknown as JsonObject, layers) as unknown as AppConfig;
  if (first.recipe !== null && first.recipe !== "paper" && first.recipe !== "scratch") {
    throw new Error(`config: recipe must be "paper", "scratch" or null, got ${JSON.stringify(first.recipe)}`);
  }
  const recipe = first.recipe ?? (first.model.dir ? "paper" : "scratch");
  const base =
    recipe === "paper"
      ? resolveRunConfig(DEFAULT_APP_CONFIG as unknown as JsonObject, { values: PAPER_PRESET as unknown as JsonObject })
      : (DEFAULT_APP_CONFIG as unknown as JsonObject);
  const merged = resolveRunConfig(base, layers) as unknown as AppConfig;
  merged.recipe = recipe;
  // Choices here, so that no caller gets a config the pipeline cannot run; ranges are checked by
  // the CLI (checkConfigValues), which can name the file or the flag a value came from.
  for (const [key, rule] of Object.entries(APP_CONFIG_OPTIONS)) {
    if (rule.kind === "choice") checkOption(rule, getConfigPath(merged, key), `config: ${key}`);
  }
  return merged;
}
