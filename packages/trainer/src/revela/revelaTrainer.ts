import { documentWeights } from "@revela/inbatch-attention";
import { frugalVariableGrads, tfSeed } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import { AdamW } from "../optim/adamW.js";
import { clipGradNorm } from "../optim/clipGradNorm.js";
import { GradientAccumulator } from "../optim/gradientAccumulator.js";
import type { LrSchedule } from "../optim/lrSchedule.js";
import { type CheckpointData, requireTensorRecord } from "../run/checkpointData.js";
import type { StepMetrics, Trainable } from "../run/trainable.js";
import { exportTrainerState, importTrainerState } from "../run/trainerState.js";
import { type BatchTokenizers, buildRevelaBatch, disposeRevelaBatch } from "./revelaBatch.js";
import { type Embedder, type RevelaLossOptions, revelaLmLoss, revelaLoss } from "./revelaLoss.js";
import { weightStats } from "./weightStats.js";

export interface RevelaTrainerOptions {
  /** The retriever being trained (its `embed` must be differentiable w.r.t. `retrieverModel`'s variables). */
  retriever: Embedder;
  /** The retriever's backbone: its trainable variables are updated (LoRA only when LoRA is on). */
  retrieverModel: CausalLM;
  lm: CausalLM;
  tokenizers: BatchTokenizers;
  loss: RevelaLossOptions;
  /** Longest LM input in tokens (BOS included; official: 156). */
  maxLmTokens: number;
  /** Peak learning rates. Paper: 1e-4 for both. */
  retrieverLr: number;
  lmLr: number;
  weightDecay: number;
  /** Global gradient-norm clipping; 0 = off. */
  maxGradNorm: number;
  /** Train only the retriever (the LM supervises, frozen). */
  freezeLm: boolean;
  schedule?: LrSchedule;
  /**
   * Batches per optimizer update (default 1). Each batch is its own in-batch attention group; their
   * gradients are averaged, then clipped and applied once — the official recipe's 8 accumulation
   * steps × 4 devices = 32 batches per update. The schedule counts updates, not batches.
   */
  accumulationSteps?: number;
  /** Seed of the training-mode dropout masks (LoRA dropout, in-batch attention dropout). Default 0. */
  seed?: number;
  /**
   * Where W comes from. `retriever` (default): Revela. `sameDocument`: W_ij spread evenly over the
   * other chunks of chunk i's own document (a row with none stays 0) and the retriever is not
   * trained — an LM warm-up that teaches the LM to read related chunks through the in-batch term,
   * from the free structure of raw text (no labels), before the retriever drives W.
   */
  weightsFrom?: "retriever" | "sameDocument";
  /** Each chunk's lexical nearest neighbour in a batch (e.g. InBatchBm25.nearest): adds the `bm25NeighbourMass` metric. */
  neighbours?: (chunks: Batch["chunks"]) => readonly number[];
}

/**
 * Revela as a `Trainable`: each step builds the batch's tensors, computes the Revela loss, and
 * applies AdamW (separate learning rates for retriever and LM, global clipping) to the retriever's
 * and (unless frozen) the LM's trainable variables.
 */
/** Variables under checkpoint-stable names (tfjs names come from a process-wide counter). */
export type NamedVariables = Record<string, tf.Variable>;

export class RevelaTrainer implements Trainable<Batch> {
  readonly optimizer: AdamW;
  private readonly retrieverVars: NamedVariables;
  private readonly lmVars: NamedVariables;
  private readonly accumulator = new GradientAccumulator();
  private readonly accumulationSteps: number;
  /** Batches seen (the dropout masks' counter; checkpointed). */
  private batches = 0;

  constructor(readonly options: RevelaTrainerOptions) {
    const o = options;
    if (o.retrieverModel === o.lm)
      throw new Error("RevelaTrainer: the retriever and the LM must be separate models (each has its own weights)");
    for (const [name, v] of Object.entries({
      retrieverLr: o.retrieverLr,
      lmLr: o.lmLr,
      weightDecay: o.weightDecay,
      maxGradNorm: o.maxGradNorm,
    })) {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
        throw new Error(`RevelaTrainer: ${name} must be a finite number ≥ 0, got ${String(v)}`);
    }
    this.accumulationSteps = o.accumulationSteps ?? 1;
    if (!Number.isInteger(this.accumulationSteps) || this.accumulationSteps < 1)
      throw new Error(`RevelaTrainer: accumulationSteps must be an integer ≥ 1, got ${String(o.accumulationSteps)}`);
    if (o.seed !== undefined && !Number.isSafeInteger(o.seed))
      throw new Error(`RevelaTrainer: seed must be an integer, got ${String(o.seed)}`);
    if (o.weightsFrom !== undefined && o.weightsFrom !== "retriever" && o.weightsFrom !== "sameDocument")
      throw new Error(
        `RevelaTrainer: weightsFrom must be "retriever" or "sameDocument", got ${JSON.stringify(o.weightsFrom)}`,
      );
    if (o.weightsFrom === "sameDocument" && o.freezeLm)
      throw new Error('RevelaTrainer: weightsFrom "sameDocument" trains only the LM; freezeLm leaves nothing to train');
    this.retrieverVars = o.weightsFrom === "sameDocument" ? {} : namedTrainables("retriever", o.retrieverModel);
    this.lmVars = o.freezeLm ? {} : namedTrainables("lm", o.lm);
    const groups: { name: string; params: tf.Variable[]; lr: number }[] = [];
    if (o.weightsFrom !== "sameDocument")
      groups.push({ name: "retriever", params: Object.values(this.retrieverVars), lr: o.retrieverLr });
    if (!o.freezeLm) groups.push({ name: "lm", params: Object.values(this.lmVars), lr: o.lmLr });
    this.optimizer = new AdamW(groups, { weightDecay: o.weightDecay, ...(o.schedule ? { schedule: o.schedule } : {}) });
  }

  /**
   * One batch: its Revela loss and gradients, added to the accumulation; every
   * `accumulationSteps`-th batch also clips the mean gradient and updates the weights. A batch whose
   * loss or gradient norm is not finite adds nothing (and is reported with `skipped` = 1).
   */
  async step(batch: Batch): Promise<StepMetrics> {
    const o = this.options;
    const t0 = performance.now();
    const tensors = buildRevelaBatch(
      batch.chunks.map((c) => c.text),
      o.tokenizers,
      o.maxLmTokens,
    );
    const vars = [...Object.values(this.retrieverVars), ...Object.values(this.lmVars)];
    const allVars = { ...this.retrieverVars, ...this.lmVars };
    const training = { seed: tfSeed(o.seed ?? 0, this.batches) };
    // Kept out of variableGrads' scope for the metrics.
    const kept: { weights?: tf.Tensor; pass2Loss?: tf.Tensor } = {};
    try {
      const { value, grads } = frugalVariableGrads(() => {
        if (o.weightsFrom === "sameDocument") {
          const weights = sameDocumentWeights(batch.chunks.map((c) => c.docId));
          const r = revelaLmLoss(o.lm, tensors, weights, o.loss, training);
          kept.weights = tf.keep(weights);
          kept.pass2Loss = tf.keep(r.pass2Loss);
          return r.loss;
        }
        const r = revelaLoss(o.retriever, o.lm, tensors, o.loss, training);
        kept.weights = tf.keep(r.weights);
        kept.pass2Loss = tf.keep(r.pass2Loss);
        return r.loss;
      }, vars);
      this.batches++;
      const retrieverGradNorm = gradNorm(grads, this.retrieverVars);
      const batchGradNorm = gradNorm(grads, allVars);
      const loss = value.dataSync()[0] as number;
      // Without dualLoss the pass-2 loss is `value` itself: read it before disposing.
      const pass2Loss = (kept.pass2Loss as tf.Tensor).dataSync()[0] as number;
      const finite = Number.isFinite(loss) && Number.isFinite(batchGradNorm);
      if (finite) this.accumulator.add(grads);
      tf.dispose([value, grads]);
      // The update's gradient norm (before clipping); NaN on batches that only accumulate.
      let updateGradNorm = Number.NaN;
      if (this.accumulator.count >= this.accumulationSteps) {
        const mean = this.accumulator.average();
        this.accumulator.reset();
        updateGradNorm = o.maxGradNorm > 0 ? clipGradNorm(mean, o.maxGradNorm) : gradNorm(mean, allVars);
        if (Number.isFinite(updateGradNorm)) this.optimizer.step(mean);
        tf.dispose(mean);
      }
      const w = (kept.weights as tf.Tensor).dataSync();
      const stats = weightStats(
        w,
        batch.chunks.length,
        batch.chunks.map((c) => c.docId),
        o.neighbours?.(batch.chunks),
      );
      const lrs = this.optimizer.learningRates();
      const seconds = (performance.now() - t0) / 1000;
      return {
        loss,
        pass2Loss,
        lr: lrs.lm ?? lrs.retriever ?? 0,
        retrieverLr: lrs.retriever ?? 0,
        gradNorm: this.accumulationSteps === 1 ? updateGradNorm : batchGradNorm,
        updateGradNorm,
        retrieverGradNorm,
        skipped: finite ? 0 : 1,
        updates: this.optimizer.stepCount,
        tokensPerSecond: tensors.lmTokens / seconds,
        meanMaxWeight: stats.meanMaxWeight,
        weightEntropy: stats.meanEntropy,
        sameDocumentMass: stats.sameDocumentMass,
        ...(stats.neighbourMass !== undefined ? { bm25NeighbourMass: stats.neighbourMass } : {}),
      };
    } finally {
      tf.dispose([kept.weights, kept.pass2Loss].filter((t): t is tf.Tensor => t !== undefined && !t.isDisposed));
      disposeRevelaBatch(tensors);
    }
  }

  /** The current document weights of a batch, without training (for reports). */
  weightsFor(batch: Batch): { weights: Float32Array; size: number } {
    const tensors = buildRevelaBatch(
      batch.chunks.map((c) => c.text),
      this.options.tokenizers,
      this.options.maxLmTokens,
    );
    try {
      const w = tf.tidy(() => {
        const q = this.options.retriever.embed(tensors.queryIds, tensors.queryMask);
        const p = this.options.retriever.embed(tensors.passageIds, tensors.passageMask);
        return documentWeights(q, p, {
          temperature: this.options.loss.temperature,
          excludeDiagonal: true,
          ...(this.options.loss.similarityPrecision
            ? { similarityPrecision: this.options.loss.similarityPrecision }
            : {}),
        });
      });
      const data = w.dataSync() as Float32Array;
      w.dispose();
      return { weights: data, size: batch.chunks.length };
    } finally {
      disposeRevelaBatch(tensors);
    }
  }

  /** Weights, optimizer, the batch counter and — mid-accumulation — the gradient sums so far. */
  async exportState(): Promise<CheckpointData> {
    const sums = this.accumulator.exportSums();
    const data = exportTrainerState({ ...this.retrieverVars, ...this.lmVars }, this.optimizer, {
      revelaBatches: this.batches,
      accumulated: sums.count,
    });
    // The sums are keyed by tfjs variable names (a process-wide counter): store them under stable ones.
    for (const [stable, v] of Object.entries({ ...this.retrieverVars, ...this.lmVars })) {
      const record = sums.tensors[v.name];
      if (record) data.tensors[`accumulator/${stable}`] = record;
    }
    return data;
  }

  async importState(data: CheckpointData): Promise<void> {
    const where = "RevelaTrainer.importState";
    const allVars = { ...this.retrieverVars, ...this.lmVars };
    importTrainerState(allVars, this.optimizer, data, where);
    const batches = data.state.revelaBatches ?? 0;
    const accumulated = data.state.accumulated ?? 0;
    if (!Number.isInteger(batches) || (batches as number) < 0)
      throw new Error(`${where}: state.revelaBatches must be a non-negative integer, got ${JSON.stringify(batches)}`);
    if (
      !Number.isInteger(accumulated) ||
      (accumulated as number) < 0 ||
      (accumulated as number) >= this.accumulationSteps
    )
      throw new Error(
        `${where}: state.accumulated must be an integer in [0, ${this.accumulationSteps}) (accumulationSteps), got ${JSON.stringify(accumulated)}`,
      );
    this.batches = batches as number;
    const sums: Record<string, { shape: number[]; data: Float32Array }> = {};
    if ((accumulated as number) > 0) {
      // Gradients are keyed by tfjs variable names, which differ between processes: map via stable names.
      for (const [stable, v] of Object.entries(allVars)) {
        const record = data.tensors[`accumulator/${stable}`];
        if (record) sums[v.name] = requireTensorRecord(record, `${where}: tensor "accumulator/${stable}"`);
      }
    }
    this.accumulator.importSums({ count: accumulated as number, tensors: sums });
  }

  dispose(): void {
    this.optimizer.dispose();
    this.accumulator.dispose();
  }
}

/** W [B, B] spread evenly over each chunk's other chunks of the same document; rows with none are 0. */
export function sameDocumentWeights(docIds: readonly string[]): tf.Tensor2D {
  const b = docIds.length;
  const w = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    const siblings: number[] = [];
    for (let j = 0; j < b; j++) if (j !== i && docIds[j] === docIds[i]) siblings.push(j);
    for (const j of siblings) w[i * b + j] = 1 / siblings.length;
  }
  return tf.tensor2d(w, [b, b]);
}

/** Trainable variables of a model under checkpoint-stable names: `<prefix>/<HF name or LoRA module>`. */
export function namedTrainables(prefix: string, model: CausalLM): NamedVariables {
  const out: NamedVariables = {};
  if (model.lora.size) {
    for (const [module, adapter] of model.lora) {
      out[`${prefix}/${module}.lora_A`] = adapter.a;
      out[`${prefix}/${module}.lora_B`] = adapter.b;
    }
  } else {
    for (const [name, v] of model.params) out[`${prefix}/${name}`] = v;
  }
  return out;
}

function gradNorm(grads: tf.NamedTensorMap, vars: NamedVariables): number {
  const gs = Object.values(vars)
    .map((v) => grads[v.name])
    .filter((g): g is tf.Tensor => g !== undefined);
  if (!gs.length) return 0;
  return tf.tidy(() => tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g))))).dataSync()[0] as number);
}
