import { IGNORE_INDEX } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import type { LrSchedule } from "../optim/lrSchedule.js";
import { paddedBatch } from "../revela/paddedBatch.js";
import type { BatchTokenizers } from "../revela/revelaBatch.js";
import type { Embedder } from "../revela/revelaLoss.js";
import { SingleModelTrainer } from "../run/singleModelTrainer.js";
import type { StepMetrics } from "../run/trainable.js";

export interface ReplugTrainerOptions {
  retriever: Embedder;
  retrieverModel: CausalLM;
  /** The frozen language model that supervises the retriever. */
  lm: CausalLM;
  tokenizers: BatchTokenizers;
  /** Tokens of each chunk (as context or as target), EOS excluded. */
  maxChunkTokens: number;
  /** Retriever softmax temperature τ (as Revela's W). */
  temperature: number;
  /** LM-score temperature β of the target distribution. REPLUG: 0.1 on log-likelihoods. */
  lmTemperature: number;
  /** Concatenated pairs per LM forward pass. */
  pairsPerPass: number;
  lr: number;
  weightDecay: number;
  maxGradNorm: number;
  schedule?: LrSchedule;
}

/**
 * REPLUG-style LM-supervised baseline (Shi et al. 2023, "LSR"): for every ordered pair (i, j ≠ i) of
 * chunks in the batch, the frozen LM scores chunk i given chunk j as context (mean log-likelihood of
 * i's tokens after j's); Q_i = softmax_j(score_ij / β) is the target and the retriever's
 * P_i = softmax_j(cos(q_i, p_j) / τ) is pulled towards it by KL(Q_i ‖ P_i). This costs B(B−1) LM
 * passes over 2L tokens per batch, where Revela needs two passes over L — the comparison the
 * paper makes; expect it to be far slower per step.
 */
export class ReplugTrainer extends SingleModelTrainer {
  constructor(readonly options: ReplugTrainerOptions) {
    const o = options;
    for (const [name, v] of Object.entries({ temperature: o.temperature, lmTemperature: o.lmTemperature })) {
      if (!(typeof v === "number" && v > 0))
        throw new Error(`ReplugTrainer: ${name} must be positive, got ${String(v)}`);
    }
    if (!Number.isInteger(o.pairsPerPass) || o.pairsPerPass < 1)
      throw new Error(`ReplugTrainer: pairsPerPass must be a positive integer, got ${o.pairsPerPass}`);
    super("ReplugTrainer", "retriever", o.retrieverModel, o);
  }

  /** score[i][j] = mean log p_LM(chunk i | chunk j), −∞ on the diagonal. No gradient. */
  lmScores(texts: readonly string[]): Float32Array {
    const o = this.options;
    const b = texts.length;
    const ids = texts.map((t) => o.tokenizers.lmEncode(t).slice(0, o.maxChunkTokens));
    const pairs: [number, number][] = [];
    for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) if (i !== j) pairs.push([i, j]);
    const scores = new Float32Array(b * b).fill(Number.NEGATIVE_INFINITY);
    for (let start = 0; start < pairs.length; start += o.pairsPerPass) {
      const group = pairs.slice(start, start + o.pairsPerPass);
      const seqs = group.map(([i, j]) => [...(ids[j] as number[]), ...(ids[i] as number[])]);
      const l = Math.max(...seqs.map((s) => s.length));
      const input = new Int32Array(group.length * l).fill(o.tokenizers.lmPadTokenId);
      const mask = new Int32Array(group.length * l);
      // Only chunk i's tokens are scored: the context's labels are ignored.
      const labels = new Int32Array(group.length * l).fill(IGNORE_INDEX);
      group.forEach(([, j], r) => {
        const seq = seqs[r] as number[];
        input.set(seq, r * l);
        mask.fill(1, r * l, r * l + seq.length);
        const ctx = (ids[j] as number[]).length;
        for (let t = ctx; t < seq.length; t++) labels[r * l + t] = seq[t] as number;
      });
      const perRow = tf.tidy(() => {
        const inputT = tf.tensor2d(input, [group.length, l], "int32");
        const { logits } = o.lm.forward(inputT, tf.tensor2d(mask, [group.length, l], "int32"));
        // Mean log-likelihood per row of the labelled (chunk i) positions, shifted by one.
        const v = o.lm.config.vocabSize;
        const lp = tf.logSoftmax(tf.slice(logits as tf.Tensor3D, [0, 0, 0], [group.length, l - 1, v]));
        // Position t predicts token t+1: pick log p(label[t+1]) from row t (flat gather, no one-hot).
        const flat = new Int32Array(group.length * (l - 1));
        const valid = new Float32Array(group.length * (l - 1));
        for (let r = 0; r < group.length; r++) {
          for (let t = 0; t < l - 1; t++) {
            const y = labels[r * l + t + 1] as number;
            const k = r * (l - 1) + t;
            flat[k] = k * v + (y === IGNORE_INDEX ? 0 : y);
            valid[k] = y === IGNORE_INDEX ? 0 : 1;
          }
        }
        const picked = tf.reshape(tf.gather(tf.reshape(lp, [-1]), tf.tensor1d(flat, "int32")), [group.length, l - 1]);
        const validT = tf.tensor2d(valid, [group.length, l - 1]);
        return tf.div(tf.sum(tf.mul(picked, validT), 1), tf.maximum(tf.sum(validT, 1), 1));
      });
      const values = perRow.dataSync();
      perRow.dispose();
      group.forEach(([i, j], r) => {
        scores[i * b + j] = values[r] as number;
      });
    }
    return scores;
  }

  async step(batch: Batch): Promise<StepMetrics> {
    const o = this.options;
    const t0 = performance.now();
    const texts = batch.chunks.map((c) => c.text);
    const b = texts.length;
    const scores = this.lmScores(texts);
    const q = texts.map((t) => o.tokenizers.retrieverTokenize(t, "query", { queryView: true }));
    const p = texts.map((t) => o.tokenizers.retrieverTokenize(t, "passage"));
    const { ids: qIds, mask: qMask } = paddedBatch(q, o.tokenizers.retrieverPadTokenId);
    const { ids: pIds, mask: pMask } = paddedBatch(p, o.tokenizers.retrieverPadTokenId);
    const diagonal = tf.tensor2d(
      Float32Array.from({ length: b * b }, (_, k) => (Math.floor(k / b) === k % b ? -1e9 : 0)),
      [b, b],
    );
    const target = tf.tidy(() =>
      tf.softmax(
        tf.add(
          tf.div(
            tf.tensor2d(
              scores.map((s) => (Number.isFinite(s) ? s : 0)),
              [b, b],
            ),
            o.lmTemperature,
          ),
          diagonal,
        ),
      ),
    );
    try {
      const outcome = this.runner.run(() => {
        const qe = o.retriever.embed(qIds, qMask);
        const pe = o.retriever.embed(pIds, pMask);
        const cos = tf.matMul(tf.div(qe, tf.norm(qe, 2, 1, true)), tf.div(pe, tf.norm(pe, 2, 1, true)), false, true);
        const logP = tf.logSoftmax(tf.add(tf.div(cos, o.temperature), diagonal));
        // KL(Q‖P) = Σ Q (log Q − log P); log Q is constant, so only −Σ Q log P carries gradient.
        return tf.neg(tf.mean(tf.sum(tf.mul(target, logP), 1))) as tf.Scalar;
      });
      return {
        loss: outcome.loss,
        lr: this.optimizer.learningRates().retriever ?? 0,
        gradNorm: outcome.gradNorm,
        skipped: outcome.skipped,
        secondsPerStep: (performance.now() - t0) / 1000,
      };
    } finally {
      tf.dispose([qIds, qMask, pIds, pMask, diagonal, target]);
    }
  }
}
