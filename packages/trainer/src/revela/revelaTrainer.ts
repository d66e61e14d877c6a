import { documentWeights } from "@revela/inbatch-attention";
import { frugalVariableGrads } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import { AdamW } from "../optim/adamW.js";
import { clipGradNorm } from "../optim/clipGradNorm.js";
import type { LrSchedule } from "../optim/lrSchedule.js";
import type { CheckpointData } from "../run/checkpointData.js";
import type { StepMetrics, Trainable } from "../run/trainable.js";
import { exportTrainerState, importTrainerState } from "../run/trainerState.js";
import { type BatchTokenizers, buildRevelaBatch, disposeRevelaBatch } from "./revelaBatch.js";
import { type Embedder, type RevelaLossOptions, revelaLoss } from "./revelaLoss.js";
import { weightStats } from "./weightStats.js";

export interface RevelaTrainerOptions {
  /** The retriever being trained (its `embed` must be differentiable w.r.t. `retrieverModel`'s variables). */
  retriever: Embedder;
  /** The retriever's backbone: its trainable variables are updated (LoRA only when LoRA is on). */
  retrieverModel: CausalLM;
  lm: CausalLM;
  tokenizers: BatchTokenizers;
  loss: RevelaLossOptions;
  /** Longest LM input in tokens (EOS included). */
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
    this.retrieverVars = namedTrainables("retriever", o.retrieverModel);
    this.lmVars = o.freezeLm ? {} : namedTrainables("lm", o.lm);
    const groups = [{ name: "retriever", params: Object.values(this.retrieverVars), lr: o.retrieverLr }];
    if (!o.freezeLm) groups.push({ name: "lm", params: Object.values(this.lmVars), lr: o.lmLr });
    this.optimizer = new AdamW(groups, { weightDecay: o.weightDecay, ...(o.schedule ? { schedule: o.schedule } : {}) });
  }

  async step(batch: Batch): Promise<StepMetrics> {
    const o = this.options;
    const t0 = performance.now();
    const tensors = buildRevelaBatch(
      batch.chunks.map((c) => c.text),
      o.tokenizers,
      o.maxLmTokens,
    );
    const vars = [...Object.values(this.retrieverVars), ...Object.values(this.lmVars)];
    // Kept out of variableGrads' scope for the metrics.
    const kept: { weights?: tf.Tensor; pass2Loss?: tf.Tensor } = {};
    try {
      const { value, grads } = frugalVariableGrads(() => {
        const r = revelaLoss(o.retriever, o.lm, tensors, o.loss);
        kept.weights = tf.keep(r.weights);
        kept.pass2Loss = tf.keep(r.pass2Loss);
        return r.loss;
      }, vars);
      const retrieverGradNorm = gradNorm(grads, this.retrieverVars);
      const norm =
        o.maxGradNorm > 0
          ? clipGradNorm(grads, o.maxGradNorm)
          : gradNorm(grads, { ...this.retrieverVars, ...this.lmVars });
      const loss = value.dataSync()[0] as number;
      if (Number.isFinite(loss) && Number.isFinite(norm)) this.optimizer.step(grads);
      const w = (kept.weights as tf.Tensor).dataSync();
      const stats = weightStats(
        w,
        batch.chunks.length,
        batch.chunks.map((c) => c.docId),
      );
      const lrs = this.optimizer.learningRates();
      const seconds = (performance.now() - t0) / 1000;
      // Without dualLoss the pass-2 loss is `value` itself: read it before disposing.
      const pass2Loss = (kept.pass2Loss as tf.Tensor).dataSync()[0] as number;
      tf.dispose([value, grads]);
      return {
        loss,
        pass2Loss,
        lr: lrs.lm ?? lrs.retriever ?? 0,
        retrieverLr: lrs.retriever ?? 0,
        gradNorm: norm,
        retrieverGradNorm,
        tokensPerSecond: tensors.lmTokens / seconds,
        meanMaxWeight: stats.meanMaxWeight,
        weightEntropy: stats.meanEntropy,
        sameDocumentMass: stats.sameDocumentMass,
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
        return revelaWeights(q, p, this.options.loss.temperature);
      });
      const data = w.dataSync() as Float32Array;
      w.dispose();
      return { weights: data, size: batch.chunks.length };
    } finally {
      disposeRevelaBatch(tensors);
    }
  }

  async exportState(): Promise<CheckpointData> {
    return exportTrainerState({ ...this.retrieverVars, ...this.lmVars }, this.optimizer);
  }

  async importState(data: CheckpointData): Promise<void> {
    importTrainerState({ ...this.retrieverVars, ...this.lmVars }, this.optimizer, data, "RevelaTrainer.importState");
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

function revelaWeights(q: tf.Tensor, p: tf.Tensor, temperature: number): tf.Tensor {
  return documentWeights(q, p, { temperature, excludeDiagonal: true });
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
