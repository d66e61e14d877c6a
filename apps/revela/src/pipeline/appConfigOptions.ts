import { CROSS_ATTENTION_OPTIONS, DOCUMENT_WEIGHTS_OPTIONS } from "@revela/inbatch-attention";
import { MAX_WASM_THREADS, type OptionRule } from "@revela/kernels";
import { LR_SCHEDULE_OPTIONS } from "@revela/trainer";

const positiveInteger: OptionRule = { kind: "number", integer: true, min: 1, doc: "" };
const nonNegativeInteger: OptionRule = { kind: "number", integer: true, min: 0, doc: "" };
const positiveNumber: OptionRule = { kind: "number", min: 0, minExclusive: true, doc: "" };
const nonNegativeNumber: OptionRule = { kind: "number", min: 0, doc: "" };
/** A share of something: a dropout rate, a share of the training time. */
const fraction: OptionRule = { kind: "number", min: 0, max: 1, maxExclusive: true, doc: "" };
const integerAtLeast = (min: number): OptionRule => ({ kind: "number", integer: true, min, doc: "" });
const choice = (choices: readonly string[]): OptionRule => ({ kind: "choice", choices, doc: "" });

/**
 * The allowed values of every numeric and choice key of AppConfig (defaults are in appConfig.ts).
 * Settings a package owns come from that package's option schema — its range, choices and doc —
 * so the package, a config file and a flag check them with one rule. resolveAppConfig, the
 * `--config` checks and the `train` flags all read this table; a test checks that every numeric
 * or choice key of the defaults has an entry.
 */
export const APP_CONFIG_OPTIONS: Readonly<Record<string, OptionRule>> = {
  minutes: positiveNumber,
  seed: nonNegativeInteger,
  threads: { kind: "number", integer: true, min: 1, max: MAX_WASM_THREADS, doc: "" },
  // r 0 means no LoRA (full fine-tuning) in a config; the flag asks for an adapter, so ≥ 1 there.
  "model.loraR": nonNegativeInteger,
  "model.loraAlpha": positiveNumber,
  "model.loraDropout": fraction,
  "model.hiddenSize": positiveInteger,
  "model.layers": positiveInteger,
  "model.heads": positiveInteger,
  "model.kvHeads": positiveInteger,
  "model.ffn": positiveInteger,
  "model.minTokenCount": positiveInteger,
  "model.copyAttention": nonNegativeNumber,
  "model.pooling": choice(["eos", "mean"]),
  "train.steps": positiveInteger,
  // W needs another chunk in the batch to weigh.
  "train.batchSize": integerAtLeast(2),
  "train.accumulationSteps": positiveInteger,
  "train.batching": choice(["consecutive", "bm25"]),
  "train.chunkWords": positiveInteger,
  "train.maxLmTokens": integerAtLeast(2),
  "train.maxRetrieverTokens": integerAtLeast(2),
  "train.temperature": DOCUMENT_WEIGHTS_OPTIONS.temperature,
  "train.similarityPrecision": DOCUMENT_WEIGHTS_OPTIONS.similarityPrecision,
  "train.implementation": CROSS_ATTENTION_OPTIONS.implementation,
  "train.topK": CROSS_ATTENTION_OPTIONS.topK,
  "train.valueNorm": CROSS_ATTENTION_OPTIONS.valueNorm,
  "train.retrieverLr": nonNegativeNumber,
  "train.lmLr": nonNegativeNumber,
  "train.weightDecay": nonNegativeNumber,
  "train.warmupSteps": LR_SCHEDULE_OPTIONS.warmupSteps,
  "train.warmup": LR_SCHEDULE_OPTIONS.warmup,
  "train.decay": choice(["constant", "linear"]),
  "train.maxGradNorm": positiveNumber,
  "train.lmWarmupShare": fraction,
  "train.lmWarmup": choice(["plain", "inbatch"]),
  "train.retrieverInit": choice(["lm", "random"]),
  "train.checkpointEvery": positiveInteger,
  "train.checkpointMinutes": positiveNumber,
  "baseline.temperature": positiveNumber,
  "baseline.lr": nonNegativeNumber,
  "eval.maxDocTokens": integerAtLeast(2),
  "eval.batchSize": positiveInteger,
  "eval.curveEvery": nonNegativeInteger,
  "eval.curveQueries": positiveInteger,
  "eval.curveDocuments": nonNegativeInteger,
};
