import type { Batch } from "../data/types.js";
import type { CheckpointData } from "./checkpointData.js";

/** What one training step reports: at least the loss; any other numeric figures are logged too. */
export interface StepMetrics {
  loss: number;
  [name: string]: number;
}

/**
 * A model plus its optimizer, as `runTraining` drives it. `exportState` must capture everything a
 * bit-identical continuation needs — weights, optimizer moments and step, the trainer's own RNG —
 * as copies the trainer will not mutate later; `importState` restores it. The data cursor is the
 * loop's business (it saves the batcher's cursor itself).
 */
export interface Trainable<B = Batch> {
  step(batch: B): Promise<StepMetrics>;
  exportState(): Promise<CheckpointData>;
  importState(data: CheckpointData): Promise<void>;
}
