import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import type { LrSchedule } from "../optim/lrSchedule.js";
import { paddedBatch } from "../revela/paddedBatch.js";
import { SingleModelTrainer } from "../run/singleModelTrainer.js";
import type { StepMetrics } from "../run/trainable.js";

export interface LanguageModelTrainerOptions {
  lm: CausalLM;
  /** LM token ids of a chunk's text (no special tokens). */
  encode(text: string): number[];
  eosTokenId: number;
  padTokenId: number;
  maxTokens: number;
  lr: number;
  weightDecay: number;
  maxGradNorm: number;
  schedule?: LrSchedule;
}

/**
 * Plain next-token training of the LM on the chunks (one pass, no in-batch term). Revela starts
 * from a pretrained LM in the paper; a model trained from scratch needs this warm-up before its
 * gradient through W says anything useful about which chunks help — before that, the retriever
 * would only receive noise.
 */
export class LanguageModelTrainer extends SingleModelTrainer {
  constructor(readonly options: LanguageModelTrainerOptions) {
    if (!Number.isInteger(options.maxTokens) || options.maxTokens < 2) {
      throw new Error(`LanguageModelTrainer: maxTokens must be an integer ≥ 2, got ${options.maxTokens}`);
    }
    super("LanguageModelTrainer", "lm", options.lm, options);
  }

  async step(batch: Batch): Promise<StepMetrics> {
    const o = this.options;
    const t0 = performance.now();
    const seqs = batch.chunks.map((c) => [...o.encode(c.text).slice(0, o.maxTokens - 1), o.eosTokenId]);
    const { ids: idsT, mask: maskT } = paddedBatch(seqs, o.padTokenId);
    try {
      const outcome = this.runner.run(
        () => o.lm.forward(idsT, maskT, { computeLoss: true, returnLogits: false }).loss as tf.Scalar,
      );
      const tokens = seqs.reduce((s, x) => s + x.length, 0);
      return {
        loss: outcome.loss,
        lr: this.optimizer.learningRates().lm ?? 0,
        gradNorm: outcome.gradNorm,
        skipped: outcome.skipped,
        tokensPerSecond: tokens / ((performance.now() - t0) / 1000),
      };
    } finally {
      tf.dispose([idsT, maskT]);
    }
  }
}
