import { type CrossAttentionImplementation, documentWeights } from "@revela/inbatch-attention";
import { IGNORE_INDEX } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import {
  type BatchTokenizers,
  buildRevelaBatch,
  disposeRevelaBatch,
  type Embedder,
  type RevelaBatchTensors,
  type RevelaLossOptions,
  RevelaTrainer,
  revelaLmLoss,
  SeededRandom,
} from "@revela/trainer";
import * as tf from "@tensorflow/tfjs";
import { type PlantedChunk, PlantedCorpus } from "./plantedCorpus.js";

/**
 * The planted-relevance experiment: does the gradient through the document weights W teach a
 * retriever, from scratch, when relevance is known? Trains a tiny LM and a tiny retriever with
 * RevelaTrainer on a PlantedCorpus and measures, every `evalEvery` steps:
 * - the retriever's W mass on each chunk's partner in held-out batches,
 * - Recall@1 of partner retrieval over the whole corpus (query view against every other passage view),
 * - the LM's loss on the partner-dependent tokens (the facts) with in-batch attention under the
 *   run's W, under the oracle W (one-hot on the partner), and with in-batch attention off.
 */

/** What W is during the Revela phase. */
export type WeightsMode =
  /** W from the retriever, gradient through W (Revela). */
  | "retriever"
  /** W frozen uniform over the other chunks: the LM still learns, the retriever gets no gradient. */
  | "uniform"
  /** W from the retriever but detached (its embeddings off the gradient tape): the LM sees it, the retriever gets no gradient. */
  | "detached";

/** What W is while the LM warms up (the retriever does not train then). */
export type WarmupWeights = "uniform" | "oracle";

export interface PlantedSettings {
  seed: number;
  /** Pairs in the corpus (2 × pairs chunks). */
  pairs: number;
  /** Pairs per batch: B = 2 × batchPairs chunks, each chunk's partner among them. */
  batchPairs: number;
  factPool: number;
  factsPerPair: number;
  fillerPool: number;
  /** Both models' shape; `retrieverInitRange`: std of the retriever's random init (LM: 0.02). */
  model: {
    hiddenSize: number;
    layers: number;
    heads: number;
    kvHeads: number;
    ffn: number;
    retrieverInitRange: number;
  };
  temperature: number;
  implementation: Extract<CrossAttentionImplementation, "dense" | "streaming">;
  valueNorm: boolean;
  /** Most LM-only steps (retriever untouched) before the arms; 0 = train both from the start. */
  warmupSteps: number;
  warmupWeights: WarmupWeights;
  /**
   * End the warm-up early, at an evaluation point, once the LM reads the partner: its loss on the
   * partner-dependent tokens under the oracle W is this many nats below ln(factPool), about the least
   * loss any LM can have on them without the partner (the facts are uniform draws, distinct within a
   * pair). Undefined: always warmupSteps.
   */
  warmupGap?: number;
  /** Steps of each arm after the warm-up. */
  steps: number;
  /**
   * The runs that follow the warm-up, each from the same post-warm-up weights and on the same
   * batches: e.g. Revela and its uniform-W control.
   */
  arms: WeightsMode[];
  retrieverLr: number;
  /** LM learning rate during the warm-up (and the arms unless armLmLr). */
  lmLr: number;
  /** LM learning rate in the arms; undefined = lmLr. */
  armLmLr?: number;
  evalEvery: number;
  heldOutBatches: number;
}

/**
 * `revela demo planted`'s defaults: the recipe that works (README, "Planted relevance"). The LM
 * first learns to read the partner with the oracle W; from random init under a near-uniform W it does
 * not within CPU budgets, and then the gradient through W carries no signal.
 */
export const DEMO_SETTINGS: PlantedSettings = {
  seed: 1,
  pairs: 48,
  batchPairs: 8,
  factPool: 32,
  factsPerPair: 2,
  fillerPool: 24,
  model: { hiddenSize: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, retrieverInitRange: 0.1 },
  temperature: 0.05,
  implementation: "streaming",
  valueNorm: true,
  warmupSteps: 600,
  warmupWeights: "oracle",
  warmupGap: 1,
  steps: 200,
  arms: ["retriever", "uniform"],
  retrieverLr: 1e-3,
  lmLr: 3e-3,
  armLmLr: 3e-4,
  evalEvery: 50,
  heldOutBatches: 8,
};

export interface PlantedPoint {
  step: number;
  phase: "start" | "warmup" | "revela";
  /** Mean training loss (pass 2, all tokens) over the steps since the previous point. */
  trainLoss: number | null;
  /** Mean W mass on the partner in the training batches since the previous point (the W the LM saw). */
  trainPartnerMass: number | null;
  /** The retriever's W mass on the partner, held-out batches. */
  partnerMass: number;
  recallAt1: number;
  /** LM loss on the fact tokens of the held-out batches, in-batch attention under the run's W. */
  factLossWithW: number;
  /** … under the oracle W (the partner only): what the LM could do with a perfect retriever. */
  factLossOracle: number;
  /** … with in-batch attention off. */
  factLossWithout: number;
}

export interface PlantedArm {
  weights: WeightsMode;
  points: PlantedPoint[];
  final: PlantedPoint;
}

export interface PlantedResult {
  settings: PlantedSettings;
  chunks: number;
  batchSize: number;
  /** Recall@1 of a retriever that picks a random other chunk. */
  chanceRecallAt1: number;
  /** W mass on the partner when W is uniform: 1 / (B − 1). */
  uniformPartnerMass: number;
  /** ln(fact pool): the loss of a guess that knows only that a fact comes. */
  uniformFactLoss: number;
  /** Before any training (the retriever is also untrained at the end of the warm-up, which leaves it alone). */
  untrained: PlantedPoint;
  warmup: PlantedPoint[];
  arms: PlantedArm[];
  seconds: number;
}

function scratchConfig(vocab: number, m: PlantedSettings["model"]): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: vocab,
    hidden_size: m.hiddenSize,
    intermediate_size: m.ffn,
    num_hidden_layers: m.layers,
    num_attention_heads: m.heads,
    num_key_value_heads: m.kvHeads,
    max_position_embeddings: 32,
    tie_word_embeddings: true,
  };
}

/** Constant embeddings: cos = 1 everywhere, so W is uniform over the other chunks. */
const uniformEmbedder: Embedder = {
  embed: (ids) => tf.ones([ids.shape[0] as number, 4]) as tf.Tensor2D,
};

/** One-hot of each row's pair (found by its entity token): W is one-hot on the partner. */
function oracleEmbedder(entityPairs: Map<number, number>, pairs: number): Embedder {
  return {
    embed: (ids) => {
      const [b, l] = ids.shape as [number, number];
      const data = ids.dataSync();
      const rows: number[] = [];
      for (let r = 0; r < b; r++) {
        let pair = -1;
        for (let t = 0; t < l && pair < 0; t++) pair = entityPairs.get(data[r * l + t] as number) ?? -1;
        if (pair < 0) throw new Error(`oracle weights: row ${r} names no entity`);
        rows.push(pair);
      }
      return tf.oneHot(tf.tensor1d(rows, "int32"), pairs).toFloat() as tf.Tensor2D;
    },
  };
}

/**
 * The retriever's embeddings with no gradient: W as the retriever sees it, unlearnable. tfjs has no
 * stopGradient; a tensor rebuilt from the values is off the gradient tape.
 */
const detached = (retriever: Embedder): Embedder => ({
  embed: (ids, mask) => {
    const e = retriever.embed(ids, mask);
    const copy = tf.tensor2d(e.dataSync() as Float32Array, e.shape);
    e.dispose();
    return copy;
  },
});

/** W [B, B] of each held-out batch from the oracle (partner one-hot). */
function oracleWeights(chunks: readonly PlantedChunk[]): tf.Tensor2D {
  const b = chunks.length;
  const w = new Float32Array(b * b);
  chunks.forEach((c, i) => {
    chunks.forEach((d, j) => {
      if (i !== j && d.pair === c.pair) w[i * b + j] = 1;
    });
  });
  return tf.tensor2d(w, [b, b]);
}

function uniformWeights(b: number): tf.Tensor2D {
  return tf.tidy(() => tf.mul(tf.sub(tf.ones([b, b]), tf.eye(b)), 1 / (b - 1)) as tf.Tensor2D);
}

/**
 * Mean next-token loss on the partner-dependent tokens of a batch — each fact's first mention in its
 * chunk — with the in-batch term under `weights` (null: off, i.e. W = 0): revelaLmLoss's pass 2 with
 * labels that keep only those tokens.
 */
function factLoss(
  lm: CausalLM,
  batch: RevelaBatchTensors,
  weights: tf.Tensor | null,
  factIds: Set<number>,
  loss: RevelaLossOptions,
): number {
  return tf
    .tidy(() => {
      const ids = batch.lmIds.dataSync();
      const [b, l] = batch.lmIds.shape;
      const firstMentions = new Int32Array(b * l).fill(IGNORE_INDEX);
      for (let r = 0; r < b; r++) {
        const seen = new Set<number>();
        for (let t = 0; t < l; t++) {
          const id = ids[r * l + t] as number;
          if (factIds.has(id) && !seen.has(id)) firstMentions[r * l + t] = id;
          seen.add(id);
        }
      }
      const labels = tf.tensor2d(firstMentions, [b, l], "int32");
      return revelaLmLoss(lm, batch, weights ?? tf.zeros([b, b]), loss, undefined, { labels }).pass2Loss;
    })
    .arraySync() as number;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : Number.NaN);

/** Mean W mass each chunk puts on its partner, W row-major [B, B]. */
function partnerMass(w: ArrayLike<number>, chunks: readonly PlantedChunk[]): number {
  const b = chunks.length;
  let sum = 0;
  chunks.forEach((c, i) => {
    chunks.forEach((d, j) => {
      if (i !== j && d.pair === c.pair) sum += w[i * b + j] as number;
    });
  });
  return sum / b;
}

/** Query-view embedding of every chunk vs passage-view embedding of every other: is the nearest the partner? */
function recallAt1(retriever: DenseEncoder, chunks: readonly PlantedChunk[]): number {
  const embedAll = (kind: "query" | "passage") => {
    const seqs = chunks.map((c) => retriever.tokenize(c.text, kind, { queryView: kind === "query" }));
    const { inputIds, attentionMask } = retriever.batchTensors(seqs);
    const e = tf.tidy(() => {
      const x = retriever.embed(inputIds, attentionMask);
      return tf.div(x, tf.maximum(tf.norm(x, 2, 1, true), 1e-12));
    });
    tf.dispose([inputIds, attentionMask]);
    return e;
  };
  const q = embedAll("query");
  const p = embedAll("passage");
  const s = tf.matMul(q, p, false, true);
  const scores = s.dataSync();
  tf.dispose([q, p, s]);
  const n = chunks.length;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let j = 0; j < n; j++) {
      if (j !== i && (best < 0 || (scores[i * n + j] as number) > (scores[i * n + best] as number))) best = j;
    }
    if ((chunks[best] as PlantedChunk).pair === (chunks[i] as PlantedChunk).pair) hits++;
  }
  return hits / n;
}

export interface PlantedRunOptions {
  /** Called with each evaluation point as it is measured, and the arm it belongs to (none before the arms). */
  onPoint?: (point: PlantedPoint, arm: WeightsMode | undefined) => void;
  signal?: AbortSignal;
}

/** Runs the experiment (the tfjs backend must be set). Deterministic for given settings and backend. */
export async function runPlantedExperiment(
  settings: PlantedSettings,
  options: PlantedRunOptions = {},
): Promise<PlantedResult> {
  const s = settings;
  const t0 = performance.now();
  const corpus = new PlantedCorpus({
    pairs: s.pairs,
    seed: s.seed,
    factPool: s.factPool,
    factsPerPair: s.factsPerPair,
    fillerPool: s.fillerPool,
  });
  const tok = corpus.tokenizer;
  const config = scratchConfig(tok.vocabSize, s.model);
  const lm = CausalLM.create(config, { seed: s.seed });
  const retrieverModel = CausalLM.create(
    { ...config, initializer_range: s.model.retrieverInitRange },
    { seed: s.seed + 1, backbone: true },
  );
  const retriever = new DenseEncoder(retrieverModel, tok, { maxLength: 32 });
  const tokenizers: BatchTokenizers = {
    lmEncode: (t) => [tok.bosTokenId, ...tok.encode(t)],
    lmEosTokenId: tok.eosTokenId,
    lmPadTokenId: tok.padTokenId,
    retrieverTokenize: (t, kind, o) => retriever.tokenize(t, kind, o ?? {}),
    retrieverPadTokenId: tok.padTokenId,
  };
  const loss: RevelaLossOptions = {
    temperature: s.temperature,
    implementation: s.implementation,
    topK: 2,
    valueNorm: s.valueNorm,
    dualLoss: false,
  };
  const b = 2 * s.batchPairs;
  const factIds = corpus.factIds();
  const allChunks = corpus.allChunks();
  const heldOutRng = SeededRandom.fromSeed(`planted-held-out-${s.seed}`);
  const heldOut = Array.from({ length: s.heldOutBatches }, (_, i) => corpus.sampleBatch(s.batchPairs, heldOutRng, i));
  const heldOutTensors = heldOut.map((batch) =>
    buildRevelaBatch(
      batch.chunks.map((c) => c.text),
      tokenizers,
      32,
    ),
  );
  let armName: WeightsMode | undefined;

  const retrieverWeights = (t: RevelaBatchTensors) =>
    tf.tidy(() =>
      documentWeights(retriever.embed(t.queryIds, t.queryMask), retriever.embed(t.passageIds, t.passageMask), {
        temperature: s.temperature,
        excludeDiagonal: true,
      }),
    );

  const evaluate = (
    step: number,
    phase: PlantedPoint["phase"],
    runWeights: "retriever" | "uniform" | "oracle",
    trainLosses: number[],
    trainMasses: number[],
  ): PlantedPoint => {
    const masses: number[] = [];
    const withW: number[] = [];
    const oracle: number[] = [];
    const without: number[] = [];
    heldOut.forEach((batch, i) => {
      const t = heldOutTensors[i] as RevelaBatchTensors;
      const w = retrieverWeights(t);
      masses.push(partnerMass(w.dataSync(), batch.chunks));
      const o = oracleWeights(batch.chunks);
      const u = uniformWeights(b);
      const run = runWeights === "retriever" ? w : runWeights === "oracle" ? o : u;
      withW.push(factLoss(lm, t, run, factIds, loss));
      oracle.push(factLoss(lm, t, o, factIds, loss));
      without.push(factLoss(lm, t, null, factIds, loss));
      tf.dispose([w, o, u]);
    });
    const point: PlantedPoint = {
      step,
      phase,
      trainLoss: trainLosses.length ? mean(trainLosses) : null,
      trainPartnerMass: trainMasses.length ? mean(trainMasses) : null,
      partnerMass: mean(masses),
      recallAt1: recallAt1(retriever, allChunks),
      factLossWithW: mean(withW),
      factLossOracle: mean(oracle),
      factLossWithout: mean(without),
    };
    options.onPoint?.(point, phase === "revela" ? armName : undefined);
    return point;
  };

  /** Trains `steps` steps with W from `embedder`, evaluating every evalEvery steps and at the end. */
  const train = async (
    phase: "warmup" | "revela",
    steps: number,
    embedder: Embedder,
    runWeights: "retriever" | "uniform" | "oracle",
    rng: SeededRandom,
    firstStep: number,
  ): Promise<PlantedPoint[]> => {
    const points: PlantedPoint[] = [];
    // One trainer per phase: its AdamW counts updates globally, so a retriever first updated after a
    // warm-up would start with a mis-scaled bias correction.
    const trainer = new RevelaTrainer({
      retriever: embedder,
      retrieverModel,
      lm,
      tokenizers,
      loss,
      maxLmTokens: 32,
      retrieverLr: phase === "warmup" ? 0 : s.retrieverLr,
      lmLr: phase === "warmup" ? s.lmLr : (s.armLmLr ?? s.lmLr),
      weightDecay: 0,
      maxGradNorm: 1,
      freezeLm: false,
    });
    let losses: number[] = [];
    let masses: number[] = [];
    try {
      for (let i = 1; i <= steps && !options.signal?.aborted; i++) {
        const step = firstStep + i;
        const metrics = await trainer.step(corpus.sampleBatch(s.batchPairs, rng, step));
        losses.push(metrics.pass2Loss as number);
        masses.push(metrics.sameDocumentMass as number);
        if (i % s.evalEvery === 0 || i === steps) {
          const point = evaluate(step, phase, runWeights, losses, masses);
          points.push(point);
          losses = [];
          masses = [];
          if (
            phase === "warmup" &&
            s.warmupGap !== undefined &&
            point.factLossOracle <= Math.log(s.factPool) - s.warmupGap
          )
            break;
        }
      }
    } finally {
      trainer.dispose();
    }
    return points;
  };

  const snapshot = (m: CausalLM) => new Map([...m.params].map(([name, v]) => [name, tf.clone(v)]));
  const restore = (m: CausalLM, saved: Map<string, tf.Tensor>) => {
    for (const [name, v] of m.params) v.assign(saved.get(name) as tf.Tensor);
  };
  const saved: Map<string, tf.Tensor>[] = [];
  try {
    const untrained = evaluate(0, "start", s.warmupSteps > 0 ? s.warmupWeights : "retriever", [], []);
    const trainRng = SeededRandom.fromSeed(`planted-train-${s.seed}`);
    const warmupEmbedder =
      s.warmupWeights === "oracle" ? oracleEmbedder(corpus.entityPairs(), corpus.pairs) : uniformEmbedder;
    const warmup =
      s.warmupSteps > 0 ? await train("warmup", s.warmupSteps, warmupEmbedder, s.warmupWeights, trainRng, 0) : [];
    // Every arm starts from the same weights and sees the same batches.
    const afterWarmup = trainRng.state();
    const warmupEnd = warmup[warmup.length - 1]?.step ?? 0;
    saved.push(snapshot(lm), snapshot(retrieverModel));
    const arms: PlantedArm[] = [];
    for (const weights of s.arms) {
      if (options.signal?.aborted) break;
      restore(lm, saved[0] as Map<string, tf.Tensor>);
      restore(retrieverModel, saved[1] as Map<string, tf.Tensor>);
      armName = weights;
      const embedder =
        weights === "uniform" ? uniformEmbedder : weights === "detached" ? detached(retriever) : retriever;
      const points = await train(
        "revela",
        s.steps,
        embedder,
        weights === "uniform" ? "uniform" : "retriever",
        SeededRandom.fromState(afterWarmup),
        warmupEnd,
      );
      arms.push({ weights, points, final: points[points.length - 1] ?? warmup[warmup.length - 1] ?? untrained });
    }
    return {
      settings: s,
      chunks: allChunks.length,
      batchSize: b,
      chanceRecallAt1: 1 / (allChunks.length - 1),
      uniformPartnerMass: 1 / (b - 1),
      uniformFactLoss: Math.log(s.factPool),
      untrained,
      warmup,
      arms,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    for (const m of saved) tf.dispose([...m.values()]);
    heldOutTensors.forEach(disposeRevelaBatch);
    lm.dispose();
    retrieverModel.dispose();
  }
}
