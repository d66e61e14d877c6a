import { documentWeights } from "@revela/inbatch-attention";
import { tfSeed } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import { AdamW } from "../optim/adamW.js";
import type { LrSchedule } from "../optim/lrSchedule.js";
import type { CheckpointData } from "../run/checkpointData.js";
import { type NamedVariables, namedTrainables } from "../run/namedTrainables.js";
import { StepRunner } from "../run/stepRunner.js";
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
export class RevelaTrainer implements Trainable<Batch> {
  readonly optimizer: AdamW;
  private readonly retrieverVars: NamedVariables;
  private readonly lmVars: NamedVariables;
  private readonly runner: StepRunner;
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
    const accumulationSteps = o.accumulationSteps ?? 1;
    if (!Number.isInteger(accumulationSteps) || accumulationSteps < 1)
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
    this.runner = new StepRunner({
      optimizer: this.optimizer,
      groups: { retriever: this.retrieverVars, lm: this.lmVars },
      maxGradNorm: o.maxGradNorm,
      accumulationSteps,
      where: "RevelaTrainer",
    });
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
    const training = { seed: tfSeed(o.seed ?? 0, this.batches) };
    // Kept out of the gradient's scope for the metrics.
    const kept: { weights?: tf.Tensor; pass2Loss?: tf.Tensor } = {};
    try {
      const outcome = this.runner.run(() => {
        if (o.weightsFrom === "sameDocument") {
          const weights = sameDocumentWeights(batch.chunks.map((c) => c.docId));
          const r = revelaLmLoss(o.lm, tensors, weights, o.loss, training);
          kept.weights = tf.keep(weights);
          kept.pass2Loss = keepPass2(r);
          return r.loss;
        }
        const r = revelaLoss(o.retriever, o.lm, tensors, o.loss, training);
        kept.weights = tf.keep(r.weights);
        kept.pass2Loss = keepPass2(r);
        return r.loss;
      });
      this.batches++;
      const pass2Loss = (kept.pass2Loss as tf.Tensor).dataSync()[0] as number;
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
        loss: outcome.loss,
        pass2Loss,
        lr: lrs.lm ?? lrs.retriever ?? 0,
        retrieverLr: lrs.retriever ?? 0,
        gradNorm: outcome.gradNorm,
        updateGradNorm: outcome.updateGradNorm,
        retrieverGradNorm: outcome.groupGradNorms.retriever ?? 0,
        skipped: outcome.skipped,
        updates: outcome.updates,
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
    const pending = this.runner.exportState();
    const data = exportTrainerState({ ...this.retrieverVars, ...this.lmVars }, this.optimizer, {
      revelaBatches: this.batches,
      ...pending.state,
    });
    Object.assign(data.tensors, pending.tensors);
    return data;
  }

  async importState(data: CheckpointData): Promise<void> {
    const where = "RevelaTrainer.importState";
    importTrainerState({ ...this.retrieverVars, ...this.lmVars }, this.optimizer, data, where);
    const batches = data.state.revelaBatches ?? 0;
    if (!Number.isInteger(batches) || (batches as number) < 0)
      throw new Error(`${where}: state.revelaBatches must be a non-negative integer, got ${JSON.stringify(batches)}`);
    this.runner.importState(data, where);
    this.batches = batches as number;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.runner.dispose();
  }
}

/** The pass-2 loss outlives the step's gradient scope; without dualLoss it is the loss itself, which that scope frees. */
function keepPass2(r: { loss: tf.Scalar; pass2Loss: tf.Scalar }): tf.Scalar {
  return tf.keep(r.pass2Loss === r.loss ? r.loss.clone() : r.pass2Loss);
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
