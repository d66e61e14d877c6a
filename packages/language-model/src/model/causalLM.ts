import os from "node:os";
import {
  applyRope,
  causalSelfAttention,
  headCrossEntropy,
  IGNORE_INDEX,
  MASKED_SCORE,
  mergeHeads,
  recomputeInBackward,
  residualAdd,
  rmsNorm,
  ropeTables,
  siluGate,
  splitHeads,
  tfSeed,
  tokenCrossEntropy,
} from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { type ParameterSpec, parameterSpecs } from "../architectures/architecture.js";
import { parseModelConfig } from "../architectures/registry.js";
import type { ModelConfig } from "../config/modelConfig.js";
import { decodeHalf } from "../safetensors/dtypes.js";
import { HEAD_SLICE_ROWS, keepsHeadProbabilities } from "./headSlice.js";
import {
  canKeepInJsMemory,
  type HostWeight,
  hostWeightFromBits,
  hostWeightValues,
  isInJsMemory,
  materialiseHostWeight,
  moveToJsMemory,
  toHostWeight,
} from "./hostWeights.js";
import { type LoraAdapter, projection } from "./projection.js";
import { namedVariable } from "./variableName.js";

/**
 * The extension point of every attention layer: receives the layer's queries (after RoPE,
 * [B, H, L, D]) and returns a term [B, H, L, D] added to the attention output before the output
 * projection — or null to add nothing. Revela's trainer plugs the in-batch attention in here.
 */
export type AttentionTermFn = (args: { layer: number; queries: tf.Tensor4D }) => tf.Tensor | null | undefined;

export interface ForwardOptions {
  /** Compute the next-token loss: labels are `labels` if given, else the inputs with padding → −100; shifted by one. */
  computeLoss?: boolean;
  /** [B, L] int32, aligned with the inputs (shifted inside, as in Hugging Face). −100 is ignored. */
  labels?: tf.Tensor;
  /** Return the logits [B, L, V] (default true unless the model is a backbone). */
  returnLogits?: boolean;
  /** Return the input of every layer and the final normed output (numHiddenLayers + 1 tensors). */
  returnHiddenStates?: boolean;
  /** Return every layer's keys (after RoPE) and values, [B, Hkv, L, D]. */
  returnKeyValues?: boolean;
  attentionTerm?: AttentionTermFn;
  /** Training mode: enables LoRA dropout (seeded). */
  training?: { dropoutSeed?: number };
  /**
   * Activation recomputation (default: the model's `recomputeLayers`): each decoder layer keeps for
   * backward only its input and its attention output (merged heads), and backward recomputes the
   * rest (norms, projections, LoRA, attention, MLP) — for smollm2-135m at L 156 1,152 instead of
   * 19,004 floats per token and layer, for one more forward of those pieces. Keys and values a caller
   * asks for, and the queries an `attentionTerm` reads, are kept by whoever keeps them. Ignored
   * when LoRA dropout has no seed. A model with offloaded layers (`offloadLayers`) refuses to record
   * gradients without it: the tape would keep every layer's weights as float32 tensors.
   */
  recompute?: boolean;
}

export interface ForwardResult {
  /** [B, L, V] */
  logits?: tf.Tensor3D;
  loss?: tf.Scalar;
  /** After the final norm: [B, L, d]. */
  lastHiddenState: tf.Tensor3D;
  hiddenStates?: tf.Tensor3D[];
  keys?: tf.Tensor4D[];
  values?: tf.Tensor4D[];
}

export interface CreateOptions {
  /** Seed of the random initialisation. Default 0. */
  seed?: number;
  /** Backbone mode: no LM head (the retriever's encoder). */
  backbone?: boolean;
}

/**
 * A LLaMA-family decoder (LlamaForCausalLM, Qwen2ForCausalLM, …) whose parameters carry their
 * Hugging Face names, so checkpoints load and save one-to-one.
 */
export class CausalLM {
  readonly config: ModelConfig;
  readonly backbone: boolean;
  /**
   * Parameters held as tensors, by Hugging Face name: every parameter, except the decoder-layer
   * weights of a model loaded with `offloadLayers` (those are in `offloaded`).
   */
  readonly params: Map<string, tf.Variable>;
  /**
   * Frozen decoder-layer weights kept in JavaScript memory, outside the backend (the wasm heap), by
   * Hugging Face name; empty unless the model was loaded with `offloadLayers`. Each layer's weights
   * become tensors only while that layer runs, and again while backward recomputes it.
   */
  readonly offloaded: Map<string, HostWeight>;
  /** LoRA adapters by module name (e.g. "model.layers.0.self_attn.q_proj"). */
  readonly lora = new Map<string, LoraAdapter>();
  /** The safetensors dtype each parameter was loaded from, so `save` writes it back unchanged. */
  readonly sourceDtypes = new Map<string, "F32" | "F16" | "BF16">();
  private ropeCache = new Map<number, { cos: tf.Tensor2D; sin: tf.Tensor2D }>();
  /**
   * Without a gradient tape, a forward pass that returns only the final states runs at most this
   * many tokens (whole sequences) at a time: an MLP intermediate of a 32 × 256-token batch is
   * [8192, ffn] — 152 MiB for Qwen2.5-0.5B — and several exist at once.
   */
  inferenceRowsPerPass = 2048;
  /** Default of ForwardOptions.recompute: recompute each layer's pieces in backward instead of keeping them. */
  recomputeLayers = false;
  /** The weights' owner record: every model built on the same weights holds it; the last to go frees them. */
  private readonly weights: SharedWeights;

  private constructor(
    config: ModelConfig,
    params: Map<string, tf.Variable>,
    backbone: boolean,
    weights: SharedWeights = { variables: params, holders: 1 },
    offloaded: Map<string, HostWeight> = new Map(),
  ) {
    this.config = config;
    this.params = params;
    this.offloaded = offloaded;
    this.backbone = backbone;
    this.weights = weights;
  }

  /**
   * A model on the frozen base weights of `base` — the same tf.Variables, not copies — for the
   * paper's setup, where the retriever and the LM start from one checkpoint and each trains only its
   * own LoRA adapters: one copy of the base serves both (for Qwen2.5-0.5B, 1.8 GiB of float32 that
   * a second copy would add to the 4 GiB wasm heap). `base`'s weights must be frozen (its LoRA
   * enabled, or every parameter's `trainable` false), since training them would change both
   * models. The new model has no adapters: add them with `enableLora` or `loadLoraAdapter`.
   * `backbone: true` leaves out the LM head (the retriever). Disposing either model leaves the
   * weights to the other; the last one disposed frees them.
   */
  static withFrozenBase(base: CausalLM, options: { backbone?: boolean } = {}): CausalLM {
    if (!base.params.size) throw new Error("CausalLM.withFrozenBase: the base model has been disposed");
    const trainable = [...base.params].filter(([, v]) => v.trainable).map(([name]) => name);
    if (trainable.length) {
      throw new Error(
        `CausalLM.withFrozenBase: the base model's weights must be frozen (enableLora on it first, or set trainable = false); ${trainable.length} are trainable, e.g. "${trainable[0]}"`,
      );
    }
    const backbone = options.backbone ?? false;
    if (base.backbone && !backbone && !base.config.tieWordEmbeddings) {
      throw new Error(
        "CausalLM.withFrozenBase: the base is a backbone without lm_head.weight; it cannot serve a causal LM",
      );
    }
    const params = new Map<string, tf.Variable>();
    // Offloaded layers are shared too: the same host arrays, each layer made into tensors per use.
    const offloaded = new Map<string, HostWeight>();
    for (const spec of parameterSpecs(base.config, { lmHead: !backbone })) {
      const host = base.offloaded.get(spec.name);
      if (host) offloaded.set(spec.name, host);
      else params.set(spec.name, base.param(spec.name));
    }
    base.weights.holders++;
    const model = new CausalLM(base.config, params, backbone, base.weights, offloaded);
    // Offloaded weights too: saveModel writes every weight in its recorded dtype (F32 without one).
    for (const name of [...params.keys(), ...offloaded.keys()]) {
      const dtype = base.sourceDtypes.get(name);
      if (dtype) model.sourceDtypes.set(name, dtype);
    }
    return model;
  }

  /** The float32 values of an offloaded weight (`offloaded`), as the model computes with them. */
  offloadedValues(name: string): Float32Array {
    const host = this.offloaded.get(name);
    if (!host) {
      throw new Error(
        `CausalLM.offloadedValues: "${name}" is not an offloaded weight of this model (${this.offloaded.size} are)`,
      );
    }
    return hostWeightValues(host);
  }

  /**
   * Whether this model keeps its LoRA adapters in JavaScript memory between uses: a model with
   * offloaded layers (`offloadLayers`) on the wasm backend. Each layer piece's adapters enter the
   * heap when the piece reads them (forward, and backward's recomputation and gradient) and leave it
   * when the piece ends or the next one starts, so the heap holds one or two layers' adapters rather
   * than all of them (0.58 GiB for both models of smollm2-135m at r 256). They stay tf.Variables:
   * training, saving and loading see no difference, and the values are moved, never changed.
   */
  get adaptersInJsMemory(): boolean {
    return this.keepAdaptersInJsMemory && this.offloaded.size > 0 && this.lora.size > 0 && canKeepInJsMemory();
  }

  /**
   * Whether a model with offloaded layers keeps its adapters in JavaScript memory (see
   * `adaptersInJsMemory`; default true). False leaves them in the heap, as before issue 15 (for
   * comparisons); adapters already moved out come back as kernels read them. Checked: anything but
   * a boolean is an error (a truthy string would otherwise silently mean true).
   */
  get keepAdaptersInJsMemory(): boolean {
    return this.keepAdaptersOut;
  }

  set keepAdaptersInJsMemory(value: boolean) {
    if (typeof value !== "boolean") {
      throw new Error(
        `CausalLM.keepAdaptersInJsMemory must be true or false, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`,
      );
    }
    this.keepAdaptersOut = value;
  }

  private keepAdaptersOut = true;

  /**
   * Moves every LoRA adapter of this model that is in the heap to JavaScript memory, when the model
   * keeps them there (`adaptersInJsMemory`); returns how many moved. Layer pieces call it as they
   * start and end; `enableLora` and `loadLoraAdapter` after making the adapters; an optimizer that
   * assigned new values may call it too.
   */
  moveAdaptersToJsMemory(): number {
    if (!this.adaptersInJsMemory) return 0;
    let moved = 0;
    for (const [module, adapter] of this.lora) {
      for (const v of [adapter.a, adapter.b]) {
        if (v.isDisposed) {
          throw new Error(`CausalLM.moveAdaptersToJsMemory: the LoRA adapter of "${module}" has been disposed`);
        }
        if (moveToJsMemory(v)) moved++;
      }
    }
    return moved;
  }

  /** How many LoRA adapter matrices of this model are in JavaScript memory now (see adaptersInJsMemory). */
  adaptersOutsideHeap(): number {
    let n = 0;
    for (const adapter of this.lora.values()) for (const v of [adapter.a, adapter.b]) if (isInJsMemory(v)) n++;
    return n;
  }

  /** Whether another model uses this model's base weights too (see `withFrozenBase`). */
  get sharesBase(): boolean {
    return this.weights.holders > 1;
  }

  /**
   * A randomly initialised model (for training from scratch). Hugging Face's scheme: weights and
   * embeddings ~ N(0, initializer_range²), biases 0, norm weights 1; seeded and reproducible.
   * `config` is a config.json object or an already parsed config.
   */
  static create(config: ModelConfig | Record<string, unknown>, options: CreateOptions = {}): CausalLM {
    const parsed = isModelConfig(config) ? config : parseModelConfig(config, "config");
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new Error(`CausalLM.create: seed must be an integer, got ${seed}`);
    const specs = parameterSpecs(parsed, { lmHead: !options.backbone });
    const bytes = 4 * specs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1), 0);
    if (bytes > os.totalmem()) {
      const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
      throw new Error(
        `CausalLM.create: the config's parameters need ${gib(bytes)} of float32 (hidden_size ${parsed.hiddenSize}, intermediate_size ${parsed.intermediateSize}, num_hidden_layers ${parsed.numHiddenLayers}, vocab_size ${parsed.vocabSize}), more than this machine's ${gib(os.totalmem())} of memory`,
      );
    }
    const params = new Map<string, tf.Variable>();
    specs.forEach((spec, i) => {
      params.set(
        spec.name,
        namedVariable(() => initialValue(spec, parsed.initializerRange, tfSeed(seed, i)), spec.name),
      );
    });
    return new CausalLM(parsed, params, options.backbone ?? false);
  }

  /**
   * A model from existing parameter values (used by loadPretrained); validates names and shapes.
   * `offloadLayers`: a frozen base whose decoder-layer weights stay in JavaScript memory (in their
   * checkpoint dtype) and enter the backend one layer at a time — for LoRA on a backbone whose
   * float32 weights would not fit the wasm heap beside a training step. Every weight of such a model
   * is frozen (trainable false); train it through LoRA adapters (`enableLora`, `loadLoraAdapter`).
   * A tensor's `data` is its float32 values, or (with `dtype` F16/BF16) its stored 16-bit patterns:
   * offloaded weights keep those as they are, so loading never makes their float32 copy.
   */
  static fromTensors(
    config: ModelConfig,
    tensors: Map<string, { shape: number[]; data: Float32Array | Uint16Array; dtype?: "F32" | "F16" | "BF16" }>,
    options: { backbone?: boolean; source?: string; offloadLayers?: boolean } = {},
  ): CausalLM {
    const source = options.source ?? "checkpoint";
    const offload = options.offloadLayers ?? false;
    if (typeof offload !== "boolean") {
      throw new Error(
        `CausalLM.fromTensors: options.offloadLayers must be true or false, got ${JSON.stringify(offload)}`,
      );
    }
    const specs = checkParameterShapes(config, tensors, options);
    // Float32 values, decoded from 16-bit patterns where a tensor holds those.
    const valuesOf = (name: string): Float32Array => {
      const t = tensors.get(name)!;
      if (t.data instanceof Float32Array) return t.data;
      if (t.data instanceof Uint16Array && (t.dtype === "F16" || t.dtype === "BF16"))
        return decodeHalf(t.dtype, t.data);
      throw new Error(
        `CausalLM.fromTensors: tensors.get("${name}").data must be a Float32Array, or a Uint16Array with dtype F16 or BF16 (got ${t.data?.constructor?.name ?? typeof t.data}, dtype ${JSON.stringify(t.dtype)})`,
      );
    };
    if (config.tieWordEmbeddings && tensors.has("lm_head.weight") && !options.backbone) {
      const head = valuesOf("lm_head.weight");
      const embed = valuesOf("model.embed_tokens.weight");
      if (head.length !== embed.length || head.some((v, i) => v !== embed[i])) {
        throw new Error(
          `${source}: tie_word_embeddings is true but "lm_head.weight" differs from "model.embed_tokens.weight"`,
        );
      }
    }
    const params = new Map<string, tf.Variable>();
    const offloaded = new Map<string, HostWeight>();
    const model = new CausalLM(config, params, options.backbone ?? false, undefined, offloaded);
    for (const spec of specs) {
      const t = tensors.get(spec.name)!;
      if (offload && spec.name.startsWith("model.layers.")) {
        offloaded.set(
          spec.name,
          t.data instanceof Uint16Array && (t.dtype === "F16" || t.dtype === "BF16")
            ? hostWeightFromBits(spec.name, t.data, spec.shape, t.dtype)
            : toHostWeight(spec.name, valuesOf(spec.name), spec.shape, t.dtype ?? "F32"),
        );
      } else {
        const values = valuesOf(spec.name);
        params.set(
          spec.name,
          namedVariable(() => tf.tensor(values, spec.shape, "float32"), spec.name, !offload),
        );
      }
      if (t.dtype) model.sourceDtypes.set(spec.name, t.dtype);
    }
    return model;
  }

  /** Parameter specs (names, shapes) of this model. */
  parameterSpecs(): ParameterSpec[] {
    return parameterSpecs(this.config, { lmHead: !this.backbone });
  }

  /** The variables an optimizer should update: LoRA weights when LoRA is on, else every parameter. */
  trainableVariables(): tf.Variable[] {
    if (this.lora.size) return [...this.lora.values()].flatMap((l) => [l.a, l.b]);
    if (this.offloaded.size) {
      // Training the resident weights alone would leave the decoder layers silently untrained.
      throw new Error(
        `CausalLM.trainableVariables: ${this.offloaded.size} decoder-layer weights are offloaded to JavaScript memory (frozen, e.g. "${this.offloaded.keys().next().value}"); train this model through LoRA adapters (enableLora), or load it without offloadLayers to train every weight`,
      );
    }
    return [...this.params.values()];
  }

  /** Releases every parameter and cached table. */
  dispose(): void {
    if (this.params.size) {
      const w = this.weights;
      w.holders--;
      if (w.holders === 0) for (const v of w.variables.values()) v.dispose();
      // The owner's map is about to be cleared; the models still using the weights keep the list.
      else if (w.variables === this.params) w.variables = new Map(this.params);
    }
    for (const l of this.lora.values()) tf.dispose([l.a, l.b]);
    for (const r of this.ropeCache.values()) tf.dispose([r.cos, r.sin]);
    this.params.clear();
    // JavaScript memory: freed by the garbage collector once no model sharing the base holds it.
    this.offloaded.clear();
    this.lora.clear();
    this.ropeCache.clear();
  }

  private param(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`CausalLM: parameter "${name}" is missing (model disposed?)`);
    return p;
  }

  private rope(seqLen: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    let r = this.ropeCache.get(seqLen);
    if (!r) {
      const { headDim, ropeTheta, ropeScaling } = this.config;
      r = tf.tidy(() => {
        const t = ropeTables({ headDim, seqLen, theta: ropeTheta, ...(ropeScaling ? { scaling: ropeScaling } : {}) });
        return { cos: tf.keep(t.cos), sin: tf.keep(t.sin) };
      });
      this.ropeCache.set(seqLen, r);
    }
    return r;
  }

  /**
   * A decoder layer's weights for one piece of the layer: resident variables as they are; offloaded
   * ones made into float32 tensors on first use and disposed by `release()` when the piece ends. A
   * gradient tape that saved one for backward keeps its own reference, so releasing is always safe;
   * with recomputation nothing of them is saved and one layer piece's weights exist at a time.
   */
  private layerWeights(): { get(name: string): tf.Tensor | undefined; release(): void } {
    const made = new Map<string, tf.Tensor>();
    return {
      get: (name) => {
        const resident = this.params.get(name);
        if (resident) return resident;
        const host = this.offloaded.get(name);
        if (!host) return undefined;
        let t = made.get(name);
        if (!t) {
          t = materialiseHostWeight(host);
          made.set(name, t);
        }
        return t;
      },
      release: () => {
        for (const [name, t] of made) {
          // The piece owns what it made; one already disposed was taken by a tf.tidy inside the
          // piece, and the cache would have handed it out disposed to a later use.
          if (t.isDisposed) {
            throw new Error(
              `CausalLM: offloaded weight "${name}" was disposed before its layer piece ended (fetched inside a tf.tidy?)`,
            );
          }
          t.dispose();
        }
        made.clear();
      },
    };
  }

  /** Runs one piece of a decoder layer with its weights (see layerWeights), releasing them after. */
  private withLayerWeights<T>(fn: (weight: (name: string) => tf.Tensor | undefined) => T): T {
    const weights = this.layerWeights();
    // Adapters kept in JavaScript memory: those of the layer whose backward just ended (its gradient
    // read them into the heap after its recomputed piece had ended) leave now, this piece's enter as
    // its kernels read them and leave when it ends.
    this.moveAdaptersToJsMemory();
    try {
      return fn(weights.get);
    } finally {
      weights.release();
      this.moveAdaptersToJsMemory();
    }
  }

  private proj(
    x: tf.Tensor,
    module: string,
    training: ForwardOptions["training"],
    weight: (name: string) => tf.Tensor | undefined,
  ): tf.Tensor {
    // Each module draws its own dropout mask from the step's seed.
    const moduleTraining =
      training?.dropoutSeed === undefined ? training : { dropoutSeed: training.dropoutSeed + stringHash(module) };
    // A tidy per projection: the base product, the LoRA path and their sum are [N, out] each, and
    // only the sum is needed afterwards (a tape keeps what backward reads on its own).
    // Weight and bias fetched outside the tidy: an offloaded one is made on fetch and belongs to the
    // layer piece (released by it); made inside, the tidy would dispose it while the piece held it.
    const w = weight(`${module}.weight`);
    if (!w) throw new Error(`CausalLM: parameter "${module}.weight" is missing (model disposed?)`);
    const bias = weight(`${module}.bias`);
    return tf.tidy(() => projection(x, w, bias, this.lora.get(module), moduleTraining));
  }

  /**
   * inputIds: [B, L] int32; attentionMask: [B, L] (1 = token, 0 = padding). Positions are 0..L−1
   * for every row, as transformers uses when no position ids are given.
   */
  forward(inputIds: tf.Tensor, attentionMask: tf.Tensor, options: ForwardOptions = {}): ForwardResult {
    const op = "CausalLM.forward";
    this.checkInputs(op, inputIds, attentionMask, options.labels);
    const wantLogits = options.returnLogits ?? !this.backbone;
    if ((wantLogits || options.computeLoss) && this.backbone) {
      throw new Error(`${op}: this model is a backbone (no LM head); it cannot return logits or a loss`);
    }
    const [b, l] = inputIds.shape as [number, number];
    const perPass = Math.max(1, Math.floor(this.inferenceRowsPerPass / l));
    const onlyHidden =
      !wantLogits &&
      !options.computeLoss &&
      !options.returnHiddenStates &&
      !options.returnKeyValues &&
      !options.attentionTerm;
    if (onlyHidden && b > perPass && !recordingGradients()) {
      // Encoding: sequences are independent, so a large batch runs a few at a time and only the
      // final states of all of them exist together.
      const lastHiddenState = this.inPasses(
        inputIds,
        attentionMask,
        (ids, mask) => this.run(ids, mask, options, false, false).lastHiddenState,
      ) as tf.Tensor3D;
      return { lastHiddenState };
    }
    return this.run(inputIds, attentionMask, options, wantLogits, false);
  }

  /**
   * Every layer's keys (after RoPE) and values [B, Hkv, L, D] — what `forward` returns with
   * `returnKeyValues` — computing nothing past the last layer's values (no attention output, MLP,
   * final norm or head in the last layer). Revela's first pass needs only these.
   */
  keyValues(
    inputIds: tf.Tensor,
    attentionMask: tf.Tensor,
    options: Pick<ForwardOptions, "training"> = {},
  ): { keys: tf.Tensor4D[]; values: tf.Tensor4D[] } {
    this.checkInputs("CausalLM.keyValues", inputIds, attentionMask, undefined);
    const out = this.run(inputIds, attentionMask, { ...options, returnKeyValues: true }, false, true);
    return { keys: out.keys as tf.Tensor4D[], values: out.values as tf.Tensor4D[] };
  }

  /**
   * The final hidden state (after the last norm) at one position per sequence, [B, d]: what
   * `forward(...).lastHiddenState` gives at row b, position positions[b] — a retriever's EOS pooling.
   * The last layer computes keys and values for every token (the positions attend to them) but its
   * queries, attention, output projection and MLP only at the B positions: a quarter of a 4-layer
   * encoder's forward and backward. With recomputation (or LoRA dropout without a seed) it runs the
   * full forward and gathers, as before.
   */
  finalHiddenAt(
    inputIds: tf.Tensor,
    attentionMask: tf.Tensor,
    positions: ArrayLike<number>,
    options: Pick<ForwardOptions, "training" | "recompute"> = {},
  ): tf.Tensor2D {
    const op = "CausalLM.finalHiddenAt";
    this.checkInputs(op, inputIds, attentionMask, undefined);
    const [b, l] = inputIds.shape as [number, number];
    if (!positions || positions.length !== b) {
      throw new Error(`${op}: positions must hold one position per sequence (${b}), got ${positions?.length}`);
    }
    const at = Int32Array.from({ length: b }, (_, i) => {
      const t = positions[i] as number;
      if (!Number.isInteger(t) || t < 0 || t >= l)
        throw new Error(`${op}: positions[${i}] = ${t} is outside [0, ${l})`);
      return t;
    });
    if (this.recomputes(options).recompute) {
      return tf.tidy(() => {
        const { lastHiddenState } = this.run(inputIds, attentionMask, options, false, false);
        const rows = Int32Array.from(at, (t, i) => i * l + t);
        return tf.gather(tf.reshape(lastHiddenState, [b * l, -1]), tf.tensor1d(rows, "int32")) as tf.Tensor2D;
      });
    }
    const states = (ids: tf.Tensor, mask: tf.Tensor, start: number) => {
      const size = ids.shape[0] as number;
      const out = this.run(ids, mask, options, false, false, at.subarray(start, start + size));
      return tf.reshape(out.lastHiddenState, [size, this.config.hiddenSize]) as tf.Tensor2D;
    };
    // Encoding (no tape): a large batch runs a few sequences at a time, as `forward` does.
    if (recordingGradients()) return tf.tidy(() => states(inputIds, attentionMask, 0));
    return this.inPasses(inputIds, attentionMask, states) as tf.Tensor2D;
  }

  /**
   * `fn` over the batch a few sequences at a time (inferenceRowsPerPass rows a pass), its results
   * concatenated along the batch: only one pass's intermediates exist at once. Not under a tape.
   */
  private inPasses(
    inputIds: tf.Tensor,
    attentionMask: tf.Tensor,
    fn: (ids: tf.Tensor, mask: tf.Tensor, start: number) => tf.Tensor,
  ): tf.Tensor {
    const [b, l] = inputIds.shape as [number, number];
    const perPass = Math.max(1, Math.floor(this.inferenceRowsPerPass / l));
    if (b <= perPass) return tf.tidy(() => fn(inputIds, attentionMask, 0));
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < b; start += perPass) {
      const size = Math.min(perPass, b - start);
      parts.push(
        tf.tidy(() =>
          fn(tf.slice(inputIds, [start, 0], [size, l]), tf.slice(attentionMask, [start, 0], [size, l]), start),
        ),
      );
    }
    const out = tf.concat(parts, 0);
    tf.dispose(parts);
    return out;
  }

  private checkInputs(op: string, inputIds: tf.Tensor, attentionMask: tf.Tensor, labels: tf.Tensor | undefined): void {
    if (!(inputIds instanceof tf.Tensor) || inputIds.rank !== 2 || inputIds.dtype !== "int32") {
      throw new Error(`${op}: inputIds must be an int32 tensor [B, L], got ${describe(inputIds)}`);
    }
    const [b, l] = inputIds.shape as [number, number];
    if (
      !(attentionMask instanceof tf.Tensor) ||
      attentionMask.rank !== 2 ||
      attentionMask.shape[0] !== b ||
      attentionMask.shape[1] !== l
    ) {
      throw new Error(`${op}: attentionMask must be [${b}, ${l}] like inputIds, got ${describe(attentionMask)}`);
    }
    if (l > this.config.maxPositionEmbeddings) {
      throw new Error(
        `${op}: sequence length ${l} exceeds max_position_embeddings (${this.config.maxPositionEmbeddings})`,
      );
    }
    if (labels !== undefined) {
      if (
        !(labels instanceof tf.Tensor) ||
        labels.dtype !== "int32" ||
        labels.shape[0] !== b ||
        labels.shape[1] !== l ||
        labels.rank !== 2
      ) {
        throw new Error(`${op}: labels must be an int32 tensor [${b}, ${l}], got ${describe(labels)}`);
      }
    }
    const ids = inputIds.dataSync();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id < 0 || id >= this.config.vocabSize) {
        throw new Error(
          `${op}: inputIds[${Math.floor(i / l)}][${i % l}] = ${id} is outside the vocabulary [0, ${this.config.vocabSize})`,
        );
      }
    }
  }

  /*
   * The decoder. The residual stream is kept as rows [B·L, d] so that projections are plain 2-D
   * products, and every piece is an op with its own gradient (@revela/kernels) that keeps for
   * backward only what backward reads: a training step's memory is the activations it needs.
   */
  private run(
    inputIds: tf.Tensor,
    attentionMask: tf.Tensor,
    options: ForwardOptions,
    wantLogits: boolean,
    keyValuesOnly: boolean,
    finalPositions?: Int32Array,
  ): ForwardResult {
    const [b, l] = inputIds.shape as [number, number];
    const c = this.config;
    const { cos, sin } = this.rope(l);
    return tf.tidy(() => {
      const mask = tf.cast(attentionMask, "float32");
      let x: tf.Tensor = tf.gather(this.param("model.embed_tokens.weight"), tf.reshape(inputIds, [-1])); // [B·L, d]
      const asBatch = (t: tf.Tensor) => tf.reshape(t, [b, l, c.hiddenSize]) as tf.Tensor3D;
      const hiddenStates: tf.Tensor3D[] = [];
      const keys: tf.Tensor4D[] = [];
      const values: tf.Tensor4D[] = [];
      for (let i = 0; i < c.numHiddenLayers; i++) {
        if (options.returnHiddenStates) hiddenStates.push(asBatch(x));
        const last = keyValuesOnly && i === c.numHiddenLayers - 1;
        if (finalPositions && i === c.numHiddenLayers - 1) {
          // [B, d]: the last layer at one position per sequence (finalHiddenAt).
          const rows = tf.tidy(() => this.lastLayerAt(i, x, mask, b, cos, sin, options, finalPositions));
          const normed = rmsNorm(rows, this.param("model.norm.weight"), c.rmsNormEps);
          return { lastHiddenState: tf.reshape(normed, [b, 1, c.hiddenSize]) } as unknown as tf.TensorContainer;
        }
        // One tidy per layer: a layer's intermediates are freed when it ends, so an inference pass
        // (encoding) holds one layer's activations rather than every layer's. Under a gradient tape
        // nothing backward needs is lost: tfjs keeps its own references to the saved tensors.
        const layer = tf.tidy(() => this.layer(i, x, mask, b, cos, sin, options, last));
        if (options.returnKeyValues) {
          if (!layer.k || !layer.v) throw new Error(`CausalLM: layer ${i} returned no keys and values`);
          keys.push(layer.k);
          values.push(layer.v);
        }
        if (last) break;
        x = layer.x as tf.Tensor;
      }
      if (keyValuesOnly) return { keys, values } as unknown as tf.TensorContainer;
      const last = rmsNorm(x, this.param("model.norm.weight"), c.rmsNormEps); // [B·L, d]
      const out: ForwardResult = { lastHiddenState: asBatch(last) };
      if (options.returnHiddenStates) hiddenStates.push(out.lastHiddenState);
      if (wantLogits || options.computeLoss) {
        const head = this.param(c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
        const labels = options.labels ?? labelsFromMask(inputIds, attentionMask);
        if (wantLogits) {
          out.logits = tf.reshape(tf.matMul(last, head, false, true), [b, l, c.vocabSize]) as tf.Tensor3D;
          if (options.computeLoss) out.loss = nextTokenLoss(out.logits, labels);
        } else {
          out.loss = headLoss(last, head, labels);
        }
      }
      if (options.returnHiddenStates) out.hiddenStates = hiddenStates;
      if (options.returnKeyValues) {
        out.keys = keys;
        out.values = values;
      }
      return out as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  /** Decoder layer `i` on the residual rows x [B·L, d]: its output and its keys and values. */
  private layer(
    i: number,
    input: tf.Tensor,
    mask: tf.Tensor,
    b: number,
    cos: tf.Tensor2D,
    sin: tf.Tensor2D,
    options: ForwardOptions,
    keyValuesOnly: boolean,
  ): { x?: tf.Tensor; k?: tf.Tensor4D; v?: tf.Tensor4D } {
    const c = this.config;
    const training = options.training;
    const p = `model.layers.${i}`;
    const { recompute, unseededDropout } = this.recomputes(options);
    if (!recompute && this.offloaded.size > 0 && recordingGradients()) {
      // Without recomputation the tape keeps the float32 copy of every layer's weights that each
      // pass makes until backward: more heap than the resident model, the opposite of offloading.
      const fix = unseededDropout
        ? "LoRA dropout without a seed turns recomputation off (a redrawn mask would differ in backward): pass training.dropoutSeed"
        : "set the model's recomputeLayers = true (or forward's recompute: true)";
      throw new Error(
        `CausalLM: layer ${i}'s weights are offloaded to JavaScript memory and gradients are being recorded without recomputation, so the tape would keep a float32 copy of every layer's weights; ${fix}`,
      );
    }
    // Both pieces fetch their weights each time they run — in forward and again when backward
    // recomputes them — so an offloaded layer's weights are tensors only while a piece of it runs.
    const norm = (weight: (name: string) => tf.Tensor | undefined, name: string) =>
      requireWeight(weight, `${p}.${name}.weight`);
    // What leaves the attention piece: what a caller asked for (keys and values; the queries for the
    // extension point's term) besides the attention output. Anything else it makes is freed after
    // the forward pass, or — recomputed — never kept.
    const term = options.attentionTerm;
    const withKeyValues = keyValuesOnly || options.returnKeyValues === true;
    // Norm, q/k/v projections, RoPE and causal self-attention — a function of the layer input alone.
    // Recomputed as one piece, a layer keeps for backward its input, not q, k, v and the attention
    // output too (issue 15: 1,152 of 2,944 floats a token and layer of the qwen2.5-0.5b shape).
    const attention = (x: tf.Tensor, pad: tf.Tensor): tf.Tensor[] =>
      this.withLayerWeights((weight) => {
        const h = rmsNorm(x, norm(weight, "input_layernorm"), c.rmsNormEps); // [B·L, d]
        const k = applyRope(
          splitHeads(this.proj(h, `${p}.self_attn.k_proj`, training, weight), b, c.numKeyValueHeads),
          cos,
          sin,
        ); // [B, Hkv, L, D]
        const v = splitHeads(this.proj(h, `${p}.self_attn.v_proj`, training, weight), b, c.numKeyValueHeads);
        if (keyValuesOnly) return [k, v];
        const q = applyRope(
          splitHeads(this.proj(h, `${p}.self_attn.q_proj`, training, weight), b, c.numAttentionHeads),
          cos,
          sin,
        ); // [B, H, L, D]
        // Its probabilities are kept only while this piece runs (forward, or its recomputed backward).
        const att = causalSelfAttention(q, k, v, { keyPaddingMask: pad });
        return [att, ...(withKeyValues ? [k, v] : []), ...(term ? [q] : [])];
      });
    // After attention: output projection, residual, norm, MLP, residual.
    const rest = (x: tf.Tensor, merged: tf.Tensor): tf.Tensor[] => [this.afterAttention(i, x, merged, training)];
    // With recomputation, backward keeps each piece's inputs and runs it again; the extension point's
    // term in between (whose inputs only the caller knows) is taped as usual. Each piece in its own
    // tidy: without a tape (encoding) only one piece's intermediates exist at a time — RoPE, head
    // splits and the MLP make several copies of each activation.
    const outputs = tf.tidy(() =>
      recompute
        ? recomputeInBackward(attention, [input], this.layerVariables(i, "attention"), { constants: [mask] })
        : attention(input, mask),
    );
    if (keyValuesOnly) return { k: outputs[0] as tf.Tensor4D, v: outputs[1] as tf.Tensor4D };
    // [attention output, (k, v), (q)], as the piece returned them.
    const [selfAttention, ...extra] = outputs as tf.Tensor4D[];
    const [k, v] = withKeyValues ? extra : [];
    const q = extra[withKeyValues ? 2 : 0];
    const merged = tf.tidy(() => {
      let att: tf.Tensor = selfAttention as tf.Tensor4D;
      const added = term && q ? term({ layer: i, queries: q }) : undefined;
      if (added) {
        if (added.rank !== 4 || added.shape.some((s, j) => s !== att.shape[j])) {
          throw new Error(
            `CausalLM.forward: attentionTerm of layer ${i} returned shape [${added.shape.join(", ")}]; it must match the attention output [${att.shape.join(", ")}]`,
          );
        }
        att = residualAdd(att, added);
      }
      return mergeHeads(att);
    });
    const [x] = tf.tidy(() =>
      recompute ? recomputeInBackward(rest, [input, merged], this.layerVariables(i, "rest")) : rest(input, merged),
    );
    return { x: x as tf.Tensor, ...(k && v ? { k, v } : {}) };
  }

  /**
   * Decoder layer `i` (the last) on the residual rows x [B·L, d], its output at one position per
   * sequence only: [B, d]. Keys and values of every token, the query of each sequence's position
   * with its own rotary angle, attention to keys up to that position (and not padding), then the
   * output projection and MLP on those B rows. Taped as usual (no recomputation).
   */
  private lastLayerAt(
    i: number,
    input: tf.Tensor,
    mask: tf.Tensor,
    b: number,
    cos: tf.Tensor2D,
    sin: tf.Tensor2D,
    options: ForwardOptions,
    positions: Int32Array,
  ): tf.Tensor {
    const c = this.config;
    const training = options.training;
    const p = `model.layers.${i}`;
    const l = (input.shape[0] as number) / b;
    const rows = tf.tensor1d(
      Int32Array.from(positions, (t, n) => n * l + t),
      "int32",
    );
    const at = tf.tensor1d(positions, "int32");
    const norm = (weight: (name: string) => tf.Tensor | undefined, name: string) =>
      requireWeight(weight, `${p}.${name}.weight`);
    // Key bias [B, 1, 1, L]: a position reads keys up to itself that are real tokens.
    const maskValues = mask.dataSync();
    const bias = new Float32Array(b * l);
    for (let n = 0; n < b; n++) {
      for (let t = 0; t < l; t++) {
        if (t > (positions[n] as number) || (maskValues[n * l + t] as number) === 0) bias[n * l + t] = MASKED_SCORE;
      }
    }
    const merged = this.withLayerWeights((weight) => {
      const h = rmsNorm(input, norm(weight, "input_layernorm"), c.rmsNormEps); // [B·L, d]
      const k = applyRope(
        splitHeads(this.proj(h, `${p}.self_attn.k_proj`, training, weight), b, c.numKeyValueHeads),
        cos,
        sin,
      ); // [B, Hkv, L, D]
      const v = splitHeads(this.proj(h, `${p}.self_attn.v_proj`, training, weight), b, c.numKeyValueHeads);
      const hAt = tf.gather(h, rows); // [B, d]
      // [B, H, 1, D] rotated as [1, H, B, D] with the B positions' angles as the "sequence".
      const qAt = splitHeads(this.proj(hAt, `${p}.self_attn.q_proj`, training, weight), b, c.numAttentionHeads);
      const rotated = applyRope(tf.transpose(qAt, [2, 1, 0, 3]), tf.gather(cos, at), tf.gather(sin, at));
      const rep = c.numAttentionHeads / c.numKeyValueHeads;
      // Query heads g·rep … g·rep + rep − 1 read kv head g: [B, Hkv, rep, D].
      const q = tf.reshape(tf.transpose(rotated, [2, 1, 0, 3]), [b, c.numKeyValueHeads, rep, c.headDim]);
      const scores = tf.add(
        tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(c.headDim)),
        tf.tensor4d(bias, [b, 1, 1, l]),
      ); // [B, Hkv, rep, L]
      const out = tf.matMul(tf.softmax(scores), v); // [B, Hkv, rep, D]
      return mergeHeads(tf.reshape(out, [b, c.numAttentionHeads, 1, c.headDim])); // [B, H·D]
    });
    const xAt = tf.gather(input, rows); // [B, d]
    return this.afterAttention(i, xAt, merged, training);
  }

  /**
   * Whether a pass with `options` recomputes its layers in backward: asked for (or the model's
   * default) and possible — a LoRA dropout mask drawn without a seed would differ when redrawn.
   */
  private recomputes(options: Pick<ForwardOptions, "training" | "recompute">): {
    recompute: boolean;
    unseededDropout: boolean;
  } {
    const t = options.training;
    const unseededDropout =
      t !== undefined && t.dropoutSeed === undefined && [...this.lora.values()].some((l) => l.dropout > 0);
    return { recompute: (options.recompute ?? this.recomputeLayers) && !unseededDropout, unseededDropout };
  }

  /**
   * What follows attention in decoder layer `i`, on residual rows x [N, d] and the merged attention
   * output [N, H·D]: output projection, residual, norm, MLP, residual.
   */
  private afterAttention(i: number, x: tf.Tensor, merged: tf.Tensor, training: ForwardOptions["training"]): tf.Tensor {
    const p = `model.layers.${i}`;
    return this.withLayerWeights((weight) => {
      const x1 = residualAdd(x, this.proj(merged, `${p}.self_attn.o_proj`, training, weight)); // [N, d]
      const h2 = rmsNorm(x1, requireWeight(weight, `${p}.post_attention_layernorm.weight`), this.config.rmsNormEps);
      const gate = this.proj(h2, `${p}.mlp.gate_proj`, training, weight); // [N, ffn]
      const up = this.proj(h2, `${p}.mlp.up_proj`, training, weight);
      return residualAdd(x1, this.proj(siluGate(gate, up), `${p}.mlp.down_proj`, training, weight));
    });
  }

  /**
   * The weights and adapters that one piece of decoder layer i reads (recomputeInBackward keeps the
   * trainable ones): "attention" — the input norm and the q/k/v projections — or "rest" — the output
   * projection, the post-attention norm and the MLP. Each piece gets only its own: a variable the
   * piece does not read would get a zero gradient allocated in every recomputed backward.
   */
  private layerVariables(i: number, piece: "attention" | "rest"): tf.Variable[] {
    const prefix = `model.layers.${i}.`;
    const owner = (name: string): "attention" | "rest" => {
      const local = name.slice(prefix.length);
      const of = (module: string) => local === module || local.startsWith(`${module}.`);
      if (["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"].some(of)) return "attention";
      if (["self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"].some(of)) {
        return "rest";
      }
      // A parameter neither piece reads would silently get no gradient.
      throw new Error(`CausalLM: parameter "${name}" belongs to no piece of decoder layer ${i}`);
    };
    const vars: tf.Variable[] = [];
    for (const [name, v] of this.params) if (name.startsWith(prefix) && owner(name) === piece) vars.push(v);
    for (const [module, adapter] of this.lora) {
      if (module.startsWith(prefix) && owner(module) === piece) vars.push(adapter.a, adapter.b);
    }
    return vars;
  }
}

/** A layer piece's weight by name, or an error naming it (a disposed model has none). */
function requireWeight(weight: (name: string) => tf.Tensor | undefined, name: string): tf.Tensor {
  const w = weight(name);
  if (!w) throw new Error(`CausalLM: parameter "${name}" is missing (model disposed?)`);
  return w;
}

/** Whether a gradient tape is recording (tf.grad, tf.variableGrads, frugalVariableGrads). */
function recordingGradients(): boolean {
  return ((tf.engine() as unknown as { state: { gradientDepth?: number } }).state.gradientDepth ?? 0) > 0;
}

/** The variables of one set of weights and how many models use them (see `CausalLM.withFrozenBase`). */
interface SharedWeights {
  variables: ReadonlyMap<string, tf.Variable>;
  holders: number;
}

/**
 * Compares a checkpoint's tensor names and shapes with the parameters `config` defines — every
 * parameter present with its shape, nothing else (a tied or backbone-dropped `lm_head.weight`
 * aside) — and returns the specs. Needs only shapes, so a loader calls it on the safetensors
 * headers before reading or allocating any tensor data.
 */
export function checkParameterShapes(
  config: ModelConfig,
  tensors: ReadonlyMap<string, { shape: readonly number[] }>,
  options: { backbone?: boolean; source?: string } = {},
): ParameterSpec[] {
  const source = options.source ?? "checkpoint";
  const specs = parameterSpecs(config, { lmHead: !options.backbone });
  const expected = new Map(specs.map((s) => [s.name, s]));
  const missing = specs.filter((s) => !tensors.has(s.name)).map((s) => s.name);
  const ignorable = new Set<string>(["lm_head.weight"]); // tied or backbone: transformers drops it too
  const unexpected = [...tensors.keys()].filter(
    (n) => !expected.has(n) && !(ignorable.has(n) && (config.tieWordEmbeddings || options.backbone)),
  );
  const list = (names: string[]) =>
    `${names.slice(0, 8).join(", ")}${names.length > 8 ? ` (+${names.length - 8} more)` : ""}`;
  if (missing.length || unexpected.length) {
    throw new Error(
      `${source}: parameters do not match ${config.architecture} with num_hidden_layers ${config.numHiddenLayers} ` +
        `(${specs.length} tensors expected, ${tensors.size} found)` +
        (missing.length ? `; missing: ${list(missing)}` : "") +
        (unexpected.length ? `; unexpected: ${list(unexpected)}` : ""),
    );
  }
  for (const spec of specs) {
    const t = tensors.get(spec.name)!;
    if (t.shape.length !== spec.shape.length || t.shape.some((s, i) => s !== spec.shape[i])) {
      throw new Error(
        `${source}: tensor "${spec.name}" has shape [${t.shape.join(", ")}], expected [${spec.shape.join(", ")}] from the config`,
      );
    }
  }
  return specs;
}

/** labels [B, L] → the target of each position [B·L]: the next label, −100 at each row's end. */
function nextTokenTargets(labels: tf.Tensor): Int32Array {
  const [b, l] = labels.shape as [number, number];
  const values = labels.dataSync();
  const targets = new Int32Array(b * l).fill(IGNORE_INDEX);
  for (let r = 0; r < b; r++) for (let t = 0; t + 1 < l; t++) targets[r * l + t] = values[r * l + t + 1] as number;
  return targets;
}

/**
 * The next-token loss from the final hidden rows [B·L, d] without computing logits the loss does
 * not read: only rows whose target is a real token (not −100, not a row's last position) go
 * through the head [V, d].
 */
function headLoss(last: tf.Tensor, head: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const targets = nextTokenTargets(labels);
  const rows: number[] = [];
  for (let i = 0; i < targets.length; i++) if (targets[i] !== IGNORE_INDEX) rows.push(i);
  // With no target at all the loss is 0; one ignored row keeps it a function of the weights.
  if (rows.length === 0) rows.push(0);
  return tf.tidy(() => {
    const picked = tf.gather(last, tf.tensor1d(rows, "int32")); // [N, d]
    // Over vocabulary slices: no [N, V] logits (1.2 GiB at B 16 × L 156 with Qwen2.5's 151,936 tokens).
    return headCrossEntropy(
      picked,
      head,
      tf.tensor1d(
        rows.map((r) => targets[r] as number),
        "int32",
      ),
      {
        sliceSize: HEAD_SLICE_ROWS,
        keepProbabilities: keepsHeadProbabilities(
          labels.shape[0] as number,
          labels.shape[1] as number,
          head.shape[0] as number,
        ),
      },
    );
  });
}

/** Hugging Face's causal-LM loss: logits at t predict labels at t+1; −100 ignored; mean over the rest. */
export function nextTokenLoss(logits: tf.Tensor3D, labels: tf.Tensor): tf.Scalar {
  const [b, l, v] = logits.shape;
  if (!(labels instanceof tf.Tensor) || labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== l) {
    throw new Error(
      `nextTokenLoss: labels must be [${b}, ${l}] like logits [${b}, ${l}, ${v}], got ${describe(labels)}`,
    );
  }
  const targets = nextTokenTargets(labels);
  // Targets shifted instead of logits sliced: a slice would copy [B, L−1, V] and keep the original.
  return tf.tidy(() => tokenCrossEntropy(tf.reshape(logits, [b * l, v]), tf.tensor1d(targets, "int32")));
}

/** Labels = inputs, with padding positions set to −100. */
export function labelsFromMask(inputIds: tf.Tensor, attentionMask: tf.Tensor): tf.Tensor {
  return tf.tidy(() =>
    tf.where(tf.greater(attentionMask, 0), inputIds, tf.fill(inputIds.shape, IGNORE_INDEX, "int32")),
  );
}

function initialValue(spec: ParameterSpec, std: number, seed: number): tf.Tensor {
  if (spec.init === "ones") return tf.ones(spec.shape);
  if (spec.init === "zeros") return tf.zeros(spec.shape);
  return tf.randomNormal(spec.shape, 0, std, "float32", seed);
}

function stringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h & 0xfffff;
}

function isModelConfig(c: unknown): c is ModelConfig {
  return typeof c === "object" && c !== null && "hiddenSize" in c && "architecture" in c;
}

function describe(t: unknown): string {
  if (t instanceof tf.Tensor) return `${t.dtype} [${t.shape.join(", ")}]`;
  return t === null ? "null" : typeof t;
}
