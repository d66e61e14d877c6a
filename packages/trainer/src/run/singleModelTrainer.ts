import type { CausalLM } from "@revela/language-model";
import type { Batch } from "../data/types.js";
import { AdamW } from "../optim/adamW.js";
import type { LrSchedule } from "../optim/lrSchedule.js";
import type { CheckpointData, JsonObject } from "./checkpointData.js";
import { type NamedVariables, namedTrainables } from "./namedTrainables.js";
import { StepRunner } from "./stepRunner.js";
import type { StepMetrics, Trainable } from "./trainable.js";
import { exportTrainerState, importTrainerState } from "./trainerState.js";

/** The optimisation settings of a trainer that updates one model. */
export interface SingleModelTraining {
  lr: number;
  weightDecay: number;
  /** Global gradient-norm clipping; 0 = off. */
  maxGradNorm: number;
  schedule?: LrSchedule;
}

/**
 * What the LM warm-up, contrastive and REPLUG trainers share: one model's trainable variables under
 * `<group>/…` names, one AdamW group, the shared StepRunner, and their checkpoint. A subclass writes
 * only its step's loss (through `runner.run`) and, if it has any, its own state (`extraState` /
 * `importExtraState`, e.g. an RNG).
 */
export abstract class SingleModelTrainer implements Trainable<Batch> {
  readonly optimizer: AdamW;
  protected readonly vars: NamedVariables;
  protected readonly runner: StepRunner;

  protected constructor(
    private readonly where: string,
    group: string,
    model: CausalLM,
    training: SingleModelTraining,
  ) {
    this.vars = namedTrainables(group, model);
    this.optimizer = new AdamW([{ name: group, params: Object.values(this.vars), lr: training.lr }], {
      weightDecay: training.weightDecay,
      ...(training.schedule ? { schedule: training.schedule } : {}),
    });
    this.runner = new StepRunner({
      optimizer: this.optimizer,
      groups: { [group]: this.vars },
      maxGradNorm: training.maxGradNorm,
      where,
    });
  }

  abstract step(batch: Batch): Promise<StepMetrics>;

  /** The subclass's own checkpoint state (JSON), saved next to the weights and the optimizer. */
  protected extraState(): JsonObject {
    return {};
  }

  /** Restores `extraState` from a checkpoint's `state`; `where` prefixes its errors. */
  protected importExtraState(_state: JsonObject, _where: string): void {}

  async exportState(): Promise<CheckpointData> {
    return exportTrainerState(this.vars, this.optimizer, this.extraState());
  }

  async importState(data: CheckpointData): Promise<void> {
    const where = `${this.where}.importState`;
    importTrainerState(this.vars, this.optimizer, data, where);
    this.importExtraState(data.state, where);
  }

  dispose(): void {
    this.optimizer.dispose();
    this.runner.dispose();
  }
}
