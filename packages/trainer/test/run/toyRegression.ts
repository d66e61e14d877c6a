import * as tf from "@tensorflow/tfjs";
import type { Batch, Chunk } from "../../src/data/types.js";
import { AdamW } from "../../src/optim/adamW.js";
import { clipGradNorm } from "../../src/optim/clipGradNorm.js";
import { LrSchedule } from "../../src/optim/lrSchedule.js";
import { assignFromRecords, type CheckpointData, variablesToRecords } from "../../src/run/checkpointData.js";
import type { StepMetrics, Trainable } from "../../src/run/trainable.js";

/** 40 chunks of 8 documents; each chunk's text holds one example (x, y) with y = 2·x0 − x1 + 0.5·x2 + 1. */
export function regressionChunks(): Chunk[] {
  const chunks: Chunk[] = [];
  for (let d = 0; d < 8; d++) {
    for (let i = 0; i < 5; i++) {
      const x = [Math.sin(d * 5 + i), Math.cos(d + 3 * i), ((d * 7 + i * 3) % 11) / 11 - 0.5];
      const y = 2 * x[0]! - x[1]! + 0.5 * x[2]! + 1;
      chunks.push({ id: `d${d}#${i}`, docId: `d${d}`, index: i, text: JSON.stringify({ x, y }) });
    }
  }
  return chunks;
}

export interface ToyOptions {
  /** Global step (1-based) whose inputs are multiplied by NaN, poisoning the weights. */
  poisonAtStep?: number;
  /** Called at the start of each step with its global number (e.g. to raise SIGINT). */
  onStep?: (step: number) => void;
}

/** Linear regression in tfjs trained with AdamW (warm-up + cosine, clipping): a Trainable small enough for tests. */
export class ToyRegression implements Trainable<Batch> {
  readonly w = tf.variable(tf.tensor([[0.1], [-0.2], [0.3]]));
  readonly b = tf.variable(tf.tensor([0]));
  readonly optimizer = new AdamW([{ name: "model", params: [this.w, this.b], lr: 0.05, weightDecay: 0.01 }], {
    schedule: new LrSchedule({ kind: "cosine", warmupSteps: 3, totalSteps: 40, floor: 0.1 }),
  });
  private readonly options: ToyOptions;

  constructor(options: ToyOptions = {}) {
    this.options = options;
  }

  async step(batch: Batch): Promise<StepMetrics> {
    const t = this.optimizer.stepCount + 1;
    this.options.onStep?.(t);
    const rows = batch.chunks.map((c) => JSON.parse(c.text) as { x: number[]; y: number });
    const scale = t === this.options.poisonAtStep ? Number.NaN : 1;
    const x = tf.tensor(rows.map((r) => r.x.map((v) => v * scale)));
    const y = tf.tensor(rows.map((r) => [r.y]));
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, this.w), this.b), y))) as tf.Scalar,
      [this.w, this.b],
    );
    const gradNorm = clipGradNorm(grads, 1);
    const lr = this.optimizer.learningRates().model as number;
    this.optimizer.step(grads);
    const loss = (await value.data())[0] as number;
    tf.dispose([x, y, value, ...Object.values(grads)]);
    return { loss, gradNorm, lr };
  }

  async exportState(): Promise<CheckpointData> {
    const optim = this.optimizer.exportState();
    return {
      tensors: { ...variablesToRecords({ w: this.w, b: this.b }, "model/"), ...optim.tensors },
      state: { optimizer: optim.state },
    };
  }

  async importState(data: CheckpointData): Promise<void> {
    assignFromRecords({ w: this.w, b: this.b }, data.tensors, "model/");
    this.optimizer.importState({ tensors: data.tensors, state: data.state.optimizer as CheckpointData["state"] });
  }

  weights(): Float32Array {
    return Float32Array.from([...this.w.dataSync(), ...this.b.dataSync()]);
  }

  dispose(): void {
    this.optimizer.dispose();
    tf.dispose([this.w, this.b]);
  }
}
