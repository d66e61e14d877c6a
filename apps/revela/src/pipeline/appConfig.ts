import { type JsonObject, resolveRunConfig } from "@revela/trainer";

/**
 * Everything the default pipeline does is set here; `revela train` flags and `--config` files
 * override it key by key (unknown keys are errors). Defaults are sized for a 2-core CPU and a
 * 20-minute budget: a small from-scratch LLaMA with a compacted Llama-3 vocabulary.
 */
export interface AppConfig {
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
    loraTargets: string[];
    /** From-scratch shape. */
    hiddenSize: number;
    layers: number;
    heads: number;
    kvHeads: number;
    ffn: number;
    /** Corpus tokens seen fewer times go to the unknown bucket of the compact vocabulary. */
    minTokenCount: number;
  };
  train: {
    /** Step cap (the time budget usually stops training first). */
    steps: number;
    batchSize: number;
    chunkWords: number;
    maxLmTokens: number;
    /**
     * τ of W = softmax(cos/τ). The paper's 1e-4 suits pretrained retrievers whose cosines spread; a
     * from-scratch retriever's cosines start nearly equal, and so tiny a τ would make W one-hot
     * with a vanishing gradient — hence a larger default here.
     */
    temperature: number;
    implementation: "dense" | "streaming" | "topk";
    topK: number;
    valueNorm: boolean;
    dualLoss: boolean;
    retrieverLr: number;
    lmLr: number;
    weightDecay: number;
    warmupSteps: number;
    maxGradNorm: number;
    freezeLm: boolean;
    /**
     * Share of the training time spent on plain next-token training of the LM before Revela starts
     * (from-scratch models only; a pretrained LM needs none). Until the LM can use other chunks, the
     * gradient through W carries no signal and only shakes the retriever.
     */
    lmWarmupShare: number;
    /**
     * From-scratch models: start the retriever from its own random init ("random"), or from the
     * warmed-up LM's weights ("lm"), as the paper starts both from one pretrained LM. Measured on a
     * 60-query SciFact slice with a 6-minute budget: "lm" gives near-identical embeddings (W almost
     * uniform) and Revela nDCG@10 0.000, "random" 0.055 — a few minutes of LM training is no
     * pretrained model.
     */
    retrieverInit: "lm" | "random";
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
  };
}

export const DEFAULT_APP_CONFIG: AppConfig = {
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
    loraTargets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    hiddenSize: 128,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 344,
    minTokenCount: 5,
  },
  train: {
    steps: 2000,
    batchSize: 16,
    chunkWords: 120,
    maxLmTokens: 128,
    temperature: 0.02,
    implementation: "streaming",
    topK: 2,
    valueNorm: true,
    dualLoss: false,
    retrieverLr: 1e-4,
    lmLr: 1e-3,
    weightDecay: 0.01,
    warmupSteps: 20,
    maxGradNorm: 1,
    freezeLm: false,
    lmWarmupShare: 0.4,
    retrieverInit: "random",
  },
  baseline: { contrastive: true, temperature: 0.05, lr: 1e-4 },
  eval: { maxDocTokens: 256, batchSize: 32, hybrid: true },
};

/**
 * Defaults ← config file ← `key.path=value` overrides (the CLI's flags), validated by key and type.
 */
export function resolveAppConfig(
  options: { file?: string; overrides?: string[]; values?: Record<string, unknown> } = {},
): AppConfig {
  const merged = resolveRunConfig(DEFAULT_APP_CONFIG as unknown as JsonObject, {
    ...(options.file ? { file: options.file } : {}),
    ...(options.values ? { values: options.values as JsonObject } : {}),
    ...(options.overrides ? { overrides: options.overrides } : {}),
  }) as unknown as AppConfig;
  const choices: [string, unknown, readonly string[]][] = [
    ["train.implementation", merged.train.implementation, ["dense", "streaming", "topk"]],
    ["train.retrieverInit", merged.train.retrieverInit, ["lm", "random"]],
  ];
  for (const [key, value, allowed] of choices) {
    if (!allowed.includes(value as string)) {
      throw new Error(
        `config: ${key} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(value)}`,
      );
    }
  }
  return merged;
}
