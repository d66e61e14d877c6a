import { formatBytes } from "@revela/kernels";
import { parameterSpecs } from "../architectures/architecture.js";
import type { ModelConfig } from "../config/modelConfig.js";
import { isLoraTarget, type LoraConfig } from "../lora/loraConfig.js";
import { HEAD_KEEP_PROBABILITIES_MAX_FLOATS, HEAD_SLICE_ROWS, keepsHeadProbabilities } from "./headSlice.js";

/**
 * What a Revela run holds in memory, computed from the config alone (nothing is loaded or
 * allocated), so that a run that cannot fit is refused before loading with the figure, the limit
 * and what to change — instead of failing minutes later. Float32 throughout: F16/BF16 checkpoints
 * are converted on load. The figures follow this implementation (see the README's memory plan):
 * what backward keeps per token and layer, the transposed and XNNPACK-packed copies a projection
 * makes of its weight, the LM head's logits.
 */
export interface RunMemoryShape {
  /** LoRA on the LM and on the retriever; null: every weight trains. */
  lora: LoraConfig | null;
  /** LM and retriever on one frozen base (CausalLM.withFrozenBase); needs LoRA. */
  sharedBase: boolean;
  /**
   * The frozen base's decoder layers kept in JavaScript memory (loadPretrained's `offloadLayers`)
   * and brought into the heap one layer piece at a time; needs LoRA. Embeddings, the final norm and
   * the LM head stay in the heap. Default false.
   */
  offloadLayers?: boolean;
  /**
   * The LoRA adapters kept in JavaScript memory between uses (CausalLM.adaptersInJsMemory: only a
   * model with offloaded layers does; `keepAdaptersInJsMemory = false` keeps them in the heap).
   * Default `offloadLayers`. False counts every adapter in the heap for the whole run.
   */
  adaptersInJsMemory?: boolean;
  /** Bytes an offloaded parameter takes in JavaScript memory: 2 for BF16/F16 checkpoints (default), 4 for F32. */
  offloadedBytesPerParameter?: 2 | 4;
  /** Retriever backbones besides the Revela retriever held at the same time (e.g. a baseline). Default 0. */
  extraRetrievers?: number;
  /** The training step, or null for encoding only. */
  train: {
    /** Chunks per batch (B). */
    batch: number;
    /** LM input length (L). */
    lmTokens: number;
    /** Retriever passage-view length; the query view is about half of it. */
    retrieverTokens: number;
    /** Whether the LM trains (its adapters, or its weights without LoRA). Default true. */
    trainLm?: boolean;
    /** Pass 1's next-token loss too (a second pass through the LM head). Default false. */
    dualLoss?: boolean;
    /** Activation recomputation per decoder layer (ForwardOptions.recompute). Default false. */
    recompute?: boolean;
  } | null;
  /** Evaluation: passages encoded per batch and their length. */
  encode: { batch: number; tokens: number } | null;
  /** Optimizer state per trained parameter, in floats (AdamW: 2). Default 2. */
  optimizerFloatsPerParameter?: number;
  /**
   * Where the optimizer state lives: "host" (default; @revela/trainer's AdamW keeps m and v in
   * JavaScript memory) or "heap" (AdamW with `state: "device"`).
   */
  optimizerState?: "host" | "heap";
}

export interface RunMemoryItem {
  name: string;
  bytes: number;
  detail: string;
}

export interface RunMemoryEstimate {
  /** Held in the heap for the whole run: weights, adapters, optimizer state when it is in the heap. */
  held: RunMemoryItem[];
  /** JavaScript memory outside the heap (not counted in peakBytes): optimizer state, gradient sums. */
  host: RunMemoryItem[];
  /** The larger of these is added at the peak: one training step's activations or one encoding batch's. */
  trainingStep: RunMemoryItem[];
  encoding: RunMemoryItem[];
  /** held + max(training step, encoding). */
  peakBytes: number;
  /** Parameters: base weights (each copy), those of them offloaded to JavaScript memory, trained parameters. */
  parameters: { base: number; offloaded: number; trained: number };
}

const F32 = 4;
/**
 * The heap beyond the tensors, as a share of them (see estimateRunMemory). Measured at the peak of
 * the qwen2.5-0.5b shape's training (r 256, 24 layers): 1.035× at B 16 (3.66 GiB of tensor buffers, a
 * 3.79 GiB heap), 1.045× at B 12; 1.10× for the 30-layer smollm2-135m shape at B 16; more (1.09–1.14×)
 * for runs of 1–2 GiB, which sit far below the 4 GiB limit. 10 % refused the qwen2.5-0.5b B 16 run that
 * fits (issue 15).
 */
const HEAP_OVERHEAD = 0.07;
/**
 * Per token and decoder layer, in units of hidden_size: what measured steps held beyond the counted
 * items. On 2- and 4-layer cuts of the qwen2.5-0.5b shape at r 256, B 16 × L 156 (`revela bench
 * --model`) the peak grew by 70 ± 5 MiB a layer (1.50 → 1.64 GiB of tensor buffers) against 69.4 MiB
 * of activations counted, but the full 24-layer shape's `revela train` step held 3.66 GiB, 0.58 GiB
 * (0.83·d floats a token and layer) more than the counted items and that slope predict — not
 * attributed yet (issue 15). Calibrated on the full run, so the 2- and 4-layer cuts are overestimated.
 */
const UNATTRIBUTED_FLOATS_PER_TOKEN_LAYER = 0.85;
/** A layer in flight as measured, relative to its activations and gradients as counted. */
const IN_FLIGHT_MEASURED = 1.4;
/**
 * The same for a recomputed layer, whose backward is frugal (@revela/kernels' recomputeInBackward): 320 MiB
 * measured against 362 MiB counted for the MLP piece of a smollm2-135m layer at B 16 × L 156, r 256
 * (issue 15; 617 MiB while tfjs's engine.gradients ran the piece's backward). 1.0 since the causal
 * attention is recomputed inside the first piece (its probabilities and their gradients in flight
 * too): the 2-layer qwen2.5-0.5b step above held 1.50 GiB at its peak, 1.42 GiB counted with 0.9.
 */
const IN_FLIGHT_RECOMPUTED_MEASURED = 1.0;
/** CausalLM's default inferenceRowsPerPass. */
const ENCODE_ROWS = 2048;
/** [N, slice] tensors the head's loss holds at once in backward (measured: logits, exp, softmax − onehot, products). */
const HEAD_SLICE_COPIES = 6;

function sum(items: RunMemoryItem[]): number {
  return items.reduce((s, i) => s + i.bytes, 0);
}

function loraParameters(config: ModelConfig, lora: LoraConfig, backbone: boolean): number {
  let n = 0;
  for (const spec of parameterSpecs(config, { lmHead: !backbone })) {
    if (!spec.name.startsWith("model.layers.") || spec.shape.length !== 2) continue;
    const module = spec.name.slice(0, -".weight".length);
    if (isLoraTarget(lora, module)) n += lora.r * ((spec.shape[0] as number) + (spec.shape[1] as number));
  }
  return n;
}

/** Sum of the input widths of the LoRA-targeted projections of one layer (LoRA dropout copies its input). */
function loraLayerWidths(config: ModelConfig, lora: LoraConfig): { modules: number; inputs: number } {
  let modules = 0;
  let inputs = 0;
  for (const spec of parameterSpecs(config, { lmHead: false })) {
    if (!spec.name.startsWith("model.layers.0.") || spec.shape.length !== 2) continue;
    if (isLoraTarget(lora, spec.name.slice(0, -".weight".length))) {
      modules++;
      inputs += spec.shape[1] as number;
    }
  }
  return { modules, inputs };
}

/**
 * Floats one token keeps in one decoder layer for backward: the layer input and norms' inputs and
 * outputs (5·d), queries and attention output (2·q), keys and values (2·kv), attention
 * probabilities (heads · context), the MLP's gate, up and product (3·ffn), each LoRA's r-wide
 * middle (before and after scaling), and with LoRA dropout the dropped copy of each targeted input.
 * With `recompute`, what recomputation keeps: the layer input and the attention output (d + q;
 * everything else, attention included, is recomputed). Queries, keys and values someone else keeps
 * (Revela's in-batch term) are not counted here.
 */
export function activationFloatsPerTokenLayer(
  config: ModelConfig,
  lora: LoraConfig | null,
  context: number,
  recompute = false,
): number {
  const d = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  if (recompute) return d + q;
  let floats = 5 * d + 2 * q + 2 * kv + config.numAttentionHeads * context + 3 * config.intermediateSize;
  if (lora) {
    const { modules, inputs } = loraLayerWidths(config, lora);
    floats += 2 * modules * lora.r + (lora.loraDropout > 0 ? inputs : 0);
  }
  return floats;
}

/** The largest weight matrix a pass multiplies by, in elements (the head when `head`). */
function largestMatrix(config: ModelConfig, head: boolean): number {
  let largest = 0;
  for (const spec of parameterSpecs(config, { lmHead: true })) {
    if (spec.shape.length !== 2) continue;
    const isHead = spec.name === "lm_head.weight" || spec.name === "model.embed_tokens.weight";
    if (isHead && !head) continue;
    largest = Math.max(largest, (spec.shape[0] as number) * (spec.shape[1] as number));
  }
  return largest;
}

/** Parameters of the decoder layers (what offloading moves out of the heap), all layers together. */
function layerParameters(config: ModelConfig): number {
  return parameterSpecs(config, { lmHead: false })
    .filter((p) => p.name.startsWith("model.layers."))
    .reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}

export function estimateRunMemory(config: ModelConfig, shape: RunMemoryShape): RunMemoryEstimate {
  const lora = shape.lora;
  const shared = shape.sharedBase && lora !== null;
  const extra = shape.extraRetrievers ?? 0;
  const offload = shape.offloadLayers ?? false;
  if (typeof offload !== "boolean") {
    throw new Error(`estimateRunMemory: shape.offloadLayers must be true or false, got ${JSON.stringify(offload)}`);
  }
  if (offload && lora === null) {
    throw new Error(
      "estimateRunMemory: shape.offloadLayers needs shape.lora — only a frozen base (trained through LoRA adapters) can be kept outside the heap",
    );
  }
  const adaptersOut = shape.adaptersInJsMemory ?? offload;
  if (typeof adaptersOut !== "boolean") {
    throw new Error(
      `estimateRunMemory: shape.adaptersInJsMemory must be true or false, got ${JSON.stringify(shape.adaptersInJsMemory)}`,
    );
  }
  if (adaptersOut && !offload) {
    throw new Error(
      "estimateRunMemory: shape.adaptersInJsMemory needs shape.offloadLayers — CausalLM keeps the LoRA adapters in JavaScript memory only for a model with offloaded layers",
    );
  }
  const hostBytesPerParameter = shape.offloadedBytesPerParameter ?? 2;
  if (hostBytesPerParameter !== 2 && hostBytesPerParameter !== 4) {
    throw new Error(
      `estimateRunMemory: shape.offloadedBytesPerParameter must be 2 (BF16/F16) or 4 (F32), got ${JSON.stringify(hostBytesPerParameter)}`,
    );
  }
  const lmBase = parameterSpecs(config, { lmHead: true }).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  const backboneBase = parameterSpecs(config, { lmHead: false }).reduce(
    (s, p) => s + p.shape.reduce((a, b) => a * b, 1),
    0,
  );
  const retrievers = 1 + extra;
  const baseParams = shared ? lmBase : lmBase + retrievers * backboneBase;
  // Each copy of the base has its own decoder layers; offloaded, they leave the heap.
  const copies = shared ? 1 : 1 + retrievers;
  const allLayers = layerParameters(config);
  const offloadedParams = offload ? copies * allLayers : 0;
  const copiesText = shared
    ? `one frozen copy shared by the LM and ${retrievers} retriever${retrievers > 1 ? "s" : ""}`
    : `${1 + retrievers} copies (LM and ${retrievers} retriever${retrievers > 1 ? "s" : ""})`;
  const held: RunMemoryItem[] = [
    {
      name: "base weights",
      bytes: (baseParams - offloadedParams) * F32,
      detail: offload
        ? `${copiesText}: embeddings, final norm${config.tieWordEmbeddings ? "" : " and LM head"} in the heap; the ${config.numHiddenLayers} decoder layers offloaded to JavaScript memory`
        : copiesText,
    },
  ];
  const trainLm = shape.train?.trainLm ?? true;
  const lmAdapters = lora ? loraParameters(config, lora, false) : 0;
  const retrieverAdapters = lora ? loraParameters(config, lora, true) : 0;
  if (lora && !adaptersOut) {
    held.push({
      name: "LoRA adapters",
      bytes: (lmAdapters + retrievers * retrieverAdapters) * F32,
      detail: `r ${lora.r}, ${lmAdapters.toLocaleString("en-US")} parameters per model`,
    });
  }
  const trained = shape.train
    ? (lora ? retrieverAdapters : backboneBase) + (trainLm ? (lora ? lmAdapters : lmBase) : 0)
    : 0;
  const host: RunMemoryItem[] = [];
  if (lora && adaptersOut) {
    // CausalLM.adaptersInJsMemory: a model with offloaded layers keeps its adapters (still
    // tf.Variables) in tfjs's cpu backend between uses; a layer piece brings its own into the heap.
    host.push({
      name: "LoRA adapters",
      bytes: (lmAdapters + retrievers * retrieverAdapters) * F32,
      detail: `r ${lora.r}, ${lmAdapters.toLocaleString("en-US")} parameters per model, float32 in JavaScript memory between uses (one or two layers' in the heap while they run)`,
    });
  }
  if (offload) {
    host.push({
      name: "offloaded base weights",
      bytes: offloadedParams * hostBytesPerParameter,
      detail: `${copiesText}: the decoder layers' ${offloadedParams.toLocaleString("en-US")} frozen parameters, ${hostBytesPerParameter === 2 ? "BF16" : "float32"}, in JavaScript memory (${formatBytes(offloadedParams * F32)} as float32 in the heap)`,
    });
  }
  // One layer's weights as float32 tensors: what an offloaded layer puts into the heap while it runs.
  const layerWeightBytes = (allLayers / config.numHiddenLayers) * F32;
  if (shape.train) {
    const optimizerFloats = shape.optimizerFloatsPerParameter ?? 2;
    const optimizer: RunMemoryItem = {
      name: "optimizer state",
      bytes: optimizerFloats * trained * F32,
      detail: `${optimizerFloats} floats per trained parameter`,
    };
    if ((shape.optimizerState ?? "host") === "heap") held.push(optimizer);
    else host.push({ ...optimizer, detail: `${optimizer.detail}, in JavaScript memory` });
    host.push({
      name: "gradient sums",
      bytes: trained * F32,
      detail: "the gradient accumulator's float32 sums, in JavaScript memory",
    });
  }

  const layers = config.numHiddenLayers;
  const queryWidth = config.numAttentionHeads * config.headDim;
  const kvWidth = config.numKeyValueHeads * config.headDim;
  const trainingStep: RunMemoryItem[] = [];
  if (shape.train) {
    const { batch, lmTokens, retrieverTokens } = shape.train;
    const recompute = shape.train.recompute ?? false;
    const queryTokens = Math.ceil(retrieverTokens / 2) + 1;
    const perLayer = (tokens: number, context: number) =>
      tokens * activationFloatsPerTokenLayer(config, lora, context, recompute);
    const retrieverFloats =
      layers * (perLayer(batch * retrieverTokens, retrieverTokens) + perLayer(batch * queryTokens, queryTokens));
    // Pass 1 (keys and values) and pass 2 (with the in-batch term) both run under the tape. A
    // recomputed layer keeps neither its queries nor its keys and values: the in-batch term keeps
    // pass 2's queries and pass 1's keys and values (kept in full without recomputation).
    const lmLayerTokens = layers * batch * lmTokens;
    const passFloats = layers * perLayer(batch * lmTokens, lmTokens);
    const pass1Floats = passFloats + (recompute ? lmLayerTokens * 2 * kvWidth : 0);
    const pass2Floats = passFloats + (recompute ? lmLayerTokens * queryWidth : 0);
    const lmFloats = pass1Floats + pass2Floats;
    trainingStep.push({
      name: "activations",
      bytes: (retrieverFloats + lmFloats) * F32,
      detail: `B ${batch}, LM L ${lmTokens} (two passes), retriever L ${retrieverTokens} + ${queryTokens}, ${layers} layers, ${recompute ? "recomputed per layer (each keeps its input and attention output; the in-batch term pass 2's queries and pass 1's keys and values)" : "kept for backward"}`,
    });
    // The rest of what measured steps held, per token and layer, beyond the items counted here.
    const allTokens = 2 * batch * lmTokens + batch * (retrieverTokens + queryTokens);
    trainingStep.push({
      name: "unattributed (measured)",
      bytes: Math.round(UNATTRIBUTED_FLOATS_PER_TOKEN_LAYER * config.hiddenSize * layers * allTokens * F32),
      detail: `what measured steps held beyond the items counted: ${UNATTRIBUTED_FLOATS_PER_TOKEN_LAYER}·d floats a token and layer`,
    });
    // The layer in flight: its full activations and their gradients (in backward, the recomputed layer).
    const widest = Math.max(batch * retrieverTokens, batch * lmTokens);
    const context = Math.max(retrieverTokens, lmTokens);
    const inFlight = recompute ? IN_FLIGHT_RECOMPUTED_MEASURED : IN_FLIGHT_MEASURED;
    const layerBytes = inFlight * 2 * widest * activationFloatsPerTokenLayer(config, lora, context) * F32;
    // The loss goes through the head one vocabulary slice at a time (headCrossEntropy): in backward
    // a slice's logits, their exponent, softmax − onehot and products (measured: 6 [N, slice] tensors
    // at once, 465 MiB at B 16 × L 156 with 8,192 rows). The head runs after the last layer and its
    // gradient before the top layer's backward: never at the same time as a layer in flight, so only
    // the larger of the two adds to the peak.
    const slice = Math.min(config.vocabSize, HEAD_SLICE_ROWS);
    const headBytes = HEAD_SLICE_COPIES * batch * lmTokens * slice * F32;
    trainingStep.push({
      name: "one layer in flight or the LM head",
      bytes: Math.max(layerBytes, headBytes),
      detail: `the larger of a layer's activations and gradients at ${widest} tokens (${formatBytes(layerBytes)}) and the head's backward over a slice, ${HEAD_SLICE_COPIES} × [${batch * lmTokens}, ${slice}] (${formatBytes(headBytes)}; ${config.vocabSize}-token vocabulary)`,
    });
    // A small head's loss keeps its softmax [N, V] from forward to backward, N ≤ B·(L − 1) rows.
    if (keepsHeadProbabilities(batch, lmTokens, config.vocabSize)) {
      const rows = batch * Math.max(lmTokens - 1, 1);
      trainingStep.push({
        name: "LM head softmax",
        bytes: rows * config.vocabSize * F32,
        detail: `the loss keeps up to [${rows}, ${config.vocabSize}] probabilities for backward (at most ${HEAD_KEEP_PROBABILITIES_MAX_FLOATS} floats; larger heads recompute them)`,
      });
    }
    if (offload) {
      // With recomputation a layer piece's weights exist only while it runs (forward, or its
      // recomputation in backward). Without, each taped pass keeps every layer's copy until
      // backward: the LM's two passes and the retriever's two views.
      trainingStep.push(
        recompute
          ? {
              name: "offloaded layer in the heap",
              bytes: layerWeightBytes,
              detail: "one decoder layer's frozen weights as float32 tensors while it runs",
            }
          : {
              name: "offloaded layers kept by the tape",
              bytes: 4 * allLayers * F32,
              detail:
                "without recomputation each of the 4 taped passes would keep its float32 copy of every layer's weights (CausalLM refuses to record gradients so: set recomputeLayers)",
            },
      );
    }
    if (lora && adaptersOut) {
      // The running piece's layer and the layer whose backward just ended (its gradient reads its
      // adapters back in after its piece ended; the next piece moves them out), of the larger model.
      // A model moves only its own adapters out, when one of its pieces runs: each other retriever
      // (a baseline's) can leave the last layer whose backward it ran in the heap meanwhile.
      trainingStep.push({
        name: "LoRA adapters in the heap",
        bytes: ((2 * lmAdapters + extra * retrieverAdapters) * F32) / layers,
        detail: `two layers' adapters: the running layer piece's and the layer whose backward just ended${extra > 0 ? `; and one layer's of each of ${extra} other retriever${extra > 1 ? "s" : ""}` : ""}`,
      });
    }
    trainingStep.push({
      name: "matMul workspace",
      bytes: (2 * Math.max(largestMatrix(config, false), slice * config.hiddenSize) + slice * config.hiddenSize) * F32,
      detail: "transposed and XNNPACK-packed copies of the largest weight or head slice",
    });
    // Gradients exist only while activations are being freed (backprop disposes what each node
    // saved once its gradient has run) and after: when pass 2's backward ends, the LM's gradients
    // and pass 1's key/value gradients have replaced pass 2's activations; at the end all gradients
    // replace all activations (the accumulator then copies them out of the heap). They add to the
    // peak only by what they exceed the activations they replace.
    const lmGrads = trainLm ? (lora ? lmAdapters : lmBase) : 0;
    const forwardEnd = sum(trainingStep);
    const afterPass2 = forwardEnd - pass2Floats * F32 + (lmGrads + 2 * kvWidth * lmLayerTokens) * F32;
    // Gradients stay in the heap (they are not moved to JavaScript memory as the adapters are):
    // they exist only once backward has freed the activations they replace, so they cost the peak
    // only what they exceed them by.
    const afterAll = trained * F32;
    const beyond = Math.max(0, afterPass2 - forwardEnd, afterAll - forwardEnd);
    trainingStep.push({
      name: "gradients",
      bytes: beyond,
      detail: `${trained.toLocaleString("en-US")} trained parameters (frozen weights have none); ${formatBytes(trained * F32)} in all, built as backward frees the activations, so they add ${formatBytes(beyond)} to the peak`,
    });
  }
  const encoding: RunMemoryItem[] = [];
  if (shape.encode) {
    const { batch, tokens } = shape.encode;
    // CausalLM runs an encoding batch a few sequences at a time (inferenceRowsPerPass, 2048 tokens).
    const perPass = Math.min(batch, Math.max(1, Math.floor(ENCODE_ROWS / tokens)));
    encoding.push({
      name: "encoding activations",
      bytes:
        (perPass * tokens * activationFloatsPerTokenLayer(config, lora, tokens) + batch * tokens * config.hiddenSize) *
        F32,
      detail: `one layer of ${perPass} passages × ${tokens} tokens at a time, the batch's ${batch} final states`,
    });
    if (offload) {
      encoding.push({
        name: "offloaded layer in the heap",
        bytes: layerWeightBytes,
        detail: "one decoder layer's frozen weights as float32 tensors while it runs",
      });
      if (lora && adaptersOut) {
        // The running layer's, and the layer another retriever can have left in the heap (see above).
        encoding.push({
          name: "LoRA adapters in the heap",
          bytes: ((1 + extra) * retrieverAdapters * F32) / layers,
          detail: `the running layer's adapters${extra > 0 ? ` and one layer's of each of ${extra} other retriever${extra > 1 ? "s" : ""}` : ""} (the others are in JavaScript memory)`,
        });
      }
    }
    encoding.push({
      name: "matMul workspace",
      bytes: 2 * largestMatrix(config, false) * F32,
      detail: "transposed and XNNPACK-packed copies of the largest weight",
    });
  }
  // The heap holds more than the tensors: XNNPACK's packed weights and the allocator's free blocks.
  // Measured: a smollm2-135m-shape LoRA step (r 32, B 4 × 156) grew the heap to 1.09× its tensor
  // estimate (`revela bench --model`).
  const tensors = sum(held) + Math.max(sum(trainingStep), sum(encoding));
  held.push({
    name: "heap overhead",
    bytes: Math.round(HEAP_OVERHEAD * tensors),
    detail: `${Math.round(HEAP_OVERHEAD * 100)} % for packed weights and allocator slack`,
  });
  return {
    held,
    host,
    trainingStep,
    encoding,
    peakBytes: sum(held) + Math.max(sum(trainingStep), sum(encoding)),
    parameters: { base: baseParams, offloaded: offloadedParams, trained },
  };
}

export interface RunMemoryCheckOptions {
  /** What the limit is, e.g. "the 4 GiB wasm heap". */
  limitName: string;
  /** Where the run's settings come from (a config file, "revela train"), for the message. */
  source: string;
  /** The run's setting names as its user writes them (e.g. { batch: "train.batchSize" }). */
  fields?: Partial<Record<"batch" | "loraR" | "lmTokens" | "encodeBatch", string>>;
}

export class RunMemoryError extends Error {
  readonly estimate: RunMemoryEstimate;
  readonly limitBytes: number;
  constructor(message: string, estimate: RunMemoryEstimate, limitBytes: number) {
    super(message);
    this.name = "RunMemoryError";
    this.estimate = estimate;
    this.limitBytes = limitBytes;
  }
}

/**
 * Throws a RunMemoryError when the estimate exceeds `limitBytes`: the figure and its parts, the
 * limit, and the settings that would fit (a smaller batch, a smaller LoRA rank, a shared base).
 */
export function checkRunMemory(
  config: ModelConfig,
  shape: RunMemoryShape,
  limitBytes: number,
  options: RunMemoryCheckOptions,
): RunMemoryEstimate {
  const estimate = estimateRunMemory(config, shape);
  if (estimate.peakBytes <= limitBytes) return estimate;
  const f = {
    batch: "batch size",
    loraR: "LoRA rank",
    lmTokens: "LM tokens",
    encodeBatch: "encoding batch",
    ...options.fields,
  };
  const parts = [
    ...estimate.held,
    ...(sumOf(estimate.trainingStep) >= sumOf(estimate.encoding) ? estimate.trainingStep : estimate.encoding),
  ]
    .map((i) => `${i.name} ${formatBytes(i.bytes)} (${i.detail})`)
    .join("; ");
  const fits = (s: RunMemoryShape) => estimateRunMemory(config, s).peakBytes <= limitBytes;
  // A shared base costs no heap and is always smaller. Offloaded layers are proposed only where they
  // lower the peak: with recomputation one layer's weights are in the heap at a time, but without it
  // each taped pass keeps its float32 copy of every layer (more than the resident base), and they
  // cost time (each layer's weights converted and copied in per use). The other settings are sized
  // on top of what is proposed.
  const canShare = shape.lora !== null && !shape.sharedBase;
  const sharedShape: RunMemoryShape = canShare ? { ...shape, sharedBase: true } : shape;
  const canOffload =
    shape.lora !== null &&
    !shape.offloadLayers &&
    estimateRunMemory(config, { ...sharedShape, offloadLayers: true }).peakBytes <
      estimateRunMemory(config, sharedShape).peakBytes;
  const base: RunMemoryShape = {
    ...shape,
    ...(canShare ? { sharedBase: true } : {}),
    ...(canOffload ? { offloadLayers: true } : {}),
  };
  const free = [
    ...(canShare ? ["share one frozen base between the LM and the retriever (CausalLM.withFrozenBase)"] : []),
    ...(canOffload
      ? [
          "keep the frozen decoder layers and the LoRA adapters in JavaScript memory, one layer in the heap at a time (loadPretrained's offloadLayers)",
        ]
      : []),
  ];
  const freeText = free.join(" and ");
  const advice: string[] = [];
  if (base.train) {
    const train = base.train;
    const batch = largest(2, train.batch - 1, (b) => fits({ ...base, train: { ...train, batch: b } }));
    if (batch !== null) advice.push(`${f.batch} ${batch} (from ${train.batch})`);
    const lmTokens = largest(8, train.lmTokens - 1, (l) =>
      fits({ ...base, train: { ...train, lmTokens: l, retrieverTokens: Math.min(train.retrieverTokens, l + 1) } }),
    );
    if (lmTokens !== null) advice.push(`${f.lmTokens} ${lmTokens} (from ${train.lmTokens})`);
  }
  if (base.lora) {
    const lora = base.lora;
    const r = largest(1, lora.r - 1, (rank) => fits({ ...base, lora: { ...lora, r: rank } }));
    if (r !== null) advice.push(`${f.loraR} ${r} (from ${lora.r})`);
  }
  if (base.encode && !base.train) {
    const enc = base.encode;
    const b = largest(1, enc.batch - 1, (n) => fits({ ...base, encode: { ...enc, batch: n } }));
    if (b !== null) advice.push(`${f.encodeBatch} ${b} (from ${enc.batch})`);
  }
  const share = free.length
    ? `${freeText.charAt(0).toUpperCase()}${freeText.slice(1)}: ${formatBytes(estimateRunMemory(config, base).peakBytes)}${fits(base) ? ", which fits. " : `; with ${free.length > 1 ? "both" : "it"}, `}`
    : "";
  // When no single setting is enough, a smaller batch and a smaller rank together may be: the
  // largest rank at each halving of the batch.
  const together: string[] = [];
  if (advice.length === 0 && base.train && base.lora) {
    const train = base.train;
    const lora = base.lora;
    for (let b = train.batch >> 1; b >= 2; b >>= 1) {
      const r = largest(1, lora.r - 1, (rank) =>
        fits({ ...base, lora: { ...lora, r: rank }, train: { ...train, batch: b } }),
      );
      if (r !== null) together.push(`${f.batch} ${b} with ${f.loraR} ${r}`);
    }
  }
  const rest =
    free.length && fits(base)
      ? ""
      : advice.length
        ? `${free.length ? "each" : "Each"} of these alone would fit: ${advice.join("; ")}.`
        : `${free.length ? "no" : "No"} smaller batch, sequence or LoRA rank alone fits` +
          (together.length
            ? `; together these would: ${together.join("; ")}.`
            : ": use a smaller model, or a backend whose limit is the machine's memory (tfjs-node).");
  throw new RunMemoryError(
    `${options.source}: this run needs an estimated ${formatBytes(estimate.peakBytes)} at its peak, more than ${options.limitName} (${formatBytes(limitBytes)}): ${parts}. ` +
      share +
      rest +
      ` (${config.architecture}, hidden_size ${config.hiddenSize}, ${config.numHiddenLayers} layers, vocab_size ${config.vocabSize}; nothing was loaded.)`,
    estimate,
    limitBytes,
  );
}

function sumOf(items: RunMemoryItem[]): number {
  return sum(items);
}

/** The largest n in [lo, hi] with ok(n), assuming ok is monotone (true up to some n); null if none. */
function largest(lo: number, hi: number, ok: (n: number) => boolean): number | null {
  if (hi < lo || !ok(lo)) return null;
  let good = lo;
  let bad = hi + 1;
  while (bad - good > 1) {
    const mid = Math.floor((good + bad) / 2);
    if (ok(mid)) good = mid;
    else bad = mid;
  }
  return good;
}
