import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { requireRngState, SeededRandom } from "../data/seededRandom.js";
import type { Batch } from "../data/types.js";
import type { LrSchedule } from "../optim/lrSchedule.js";
import { paddedBatch } from "../revela/paddedBatch.js";
import type { Embedder } from "../revela/revelaLoss.js";
import type { JsonObject } from "../run/checkpointData.js";
import { SingleModelTrainer } from "../run/singleModelTrainer.js";
import type { StepMetrics } from "../run/trainable.js";

export interface ContrastiveTrainerOptions {
  retriever: Embedder;
  retrieverModel: CausalLM;
  /** Retriever token ids of a text (prefix and EOS included), as the retriever encodes passages. */
  tokenize(text: string): number[];
  padTokenId: number;
  /** InfoNCE temperature (Contriever: 0.05). */
  temperature: number;
  /** Each crop keeps this share range of a chunk's words (Contriever: 0.1–0.5). */
  cropRatio: [number, number];
  lr: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  schedule?: LrSchedule;
}

/**
 * Contriever-style baseline: two random crops of each chunk form a positive pair; the other
 * chunks' crops in the batch are the negatives; loss = InfoNCE (cross-entropy of the crop-1 vs
 * crop-2 similarity matrix / τ against the diagonal). Same backbone, batches and optimizer as Revela,
 * so the two are compared at equal steps.
 */
export class ContrastiveTrainer extends SingleModelTrainer {
  private rng: SeededRandom;

  constructor(readonly options: ContrastiveTrainerOptions) {
    const o = options;
    if (!(o.temperature > 0)) throw new Error(`ContrastiveTrainer: temperature must be positive, got ${o.temperature}`);
    const [lo, hi] = o.cropRatio;
    if (!(lo > 0 && hi <= 1 && lo <= hi))
      throw new Error(`ContrastiveTrainer: cropRatio must satisfy 0 < lo ≤ hi ≤ 1, got [${lo}, ${hi}]`);
    super("ContrastiveTrainer", "retriever", o.retrieverModel, o);
    this.rng = SeededRandom.fromSeed(o.seed);
  }

  /** A contiguous span of a random share of the words. */
  private crop(text: string): string {
    const words = text.split(/\s+/).filter(Boolean);
    const [lo, hi] = this.options.cropRatio;
    const n = Math.max(1, Math.round(words.length * (lo + (hi - lo) * this.rng.float())));
    const start = this.rng.int(words.length - n + 1);
    return words.slice(start, start + n).join(" ");
  }

  private tensors(texts: string[]): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
    return paddedBatch(
      texts.map((t) => this.options.tokenize(t)),
      this.options.padTokenId,
    );
  }

  async step(batch: Batch): Promise<StepMetrics> {
    const o = this.options;
    const t0 = performance.now();
    const a = this.tensors(batch.chunks.map((c) => this.crop(c.text)));
    const b = this.tensors(batch.chunks.map((c) => this.crop(c.text)));
    const n = batch.chunks.length;
    try {
      const outcome = this.runner.run(() => {
        const ea = o.retriever.embed(a.ids, a.mask);
        const eb = o.retriever.embed(b.ids, b.mask);
        const logits = tf.div(tf.matMul(ea, eb, false, true), o.temperature); // [B, B]
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.range(0, n, 1, "int32"), n), logits) as tf.Scalar;
      });
      const tokens = (a.mask.sum().dataSync()[0] as number) + (b.mask.sum().dataSync()[0] as number);
      return {
        loss: outcome.loss,
        lr: this.optimizer.learningRates().retriever ?? 0,
        gradNorm: outcome.gradNorm,
        skipped: outcome.skipped,
        tokensPerSecond: tokens / ((performance.now() - t0) / 1000),
      };
    } finally {
      tf.dispose([a.ids, a.mask, b.ids, b.mask]);
    }
  }

  protected override extraState(): JsonObject {
    return { rng: { ...this.rng.state() } };
  }

  protected override importExtraState(state: JsonObject, where: string): void {
    this.rng = SeededRandom.fromState(requireRngState(state.rng, `${where}: state.rng`));
  }
}
