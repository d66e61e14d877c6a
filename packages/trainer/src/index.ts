/**
 * @revela/trainer — corpus → chunks → batches, the Revela training step, baselines and resumable
 * runs. This file is the package's whole public API.
 */

// Corpus readers throw it (strict mode): callers catch it from here.
export { DataFormatError } from "@revela/text-data";
export { ContrastiveTrainer, type ContrastiveTrainerOptions } from "./baselines/contrastiveTrainer.js";
export { ReplugTrainer, type ReplugTrainerOptions } from "./baselines/replugTrainer.js";
export { Bm25NeighbourBatcher, type Bm25NeighbourBatcherOptions } from "./data/bm25NeighbourBatcher.js";
export { type ChunkOptions, chunkCorpus, chunkDocument } from "./data/chunkDocument.js";
export { type BatcherOptions, ConsecutiveBatcher } from "./data/consecutiveBatcher.js";
export { epochBatchSizes } from "./data/epochLayout.js";
export { InBatchBm25 } from "./data/inBatchBm25.js";
export { type BeirCorpusOptions, readBeirCorpus } from "./data/readBeirCorpus.js";
export { type CorpusWarning, type JsonlCorpusOptions, readJsonlCorpus } from "./data/readJsonlCorpus.js";
export { SeededRandom } from "./data/seededRandom.js";
export type { Batch, BatcherState, BatchSource, Chunk, Document, RngState } from "./data/types.js";
export { LanguageModelTrainer, type LanguageModelTrainerOptions } from "./lm/languageModelTrainer.js";
export { AdamW, type AdamWOptions, type ParamGroup } from "./optim/adamW.js";
export { clipGradNorm } from "./optim/clipGradNorm.js";
export {
  LR_SCHEDULE_OPTIONS,
  LrSchedule,
  type LrScheduleKind,
  type LrScheduleOptions,
  WARMUP_SHAPES,
  type WarmupShape,
} from "./optim/lrSchedule.js";
export { PAPER_RECIPE, type RevelaRecipe } from "./recipe/paperRecipe.js";
export { otherDocumentWeights, type ReadingGain, readingGain } from "./revela/readingGain.js";
export {
  type BatchTokenizers,
  buildRevelaBatch,
  disposeRevelaBatch,
  type RevelaBatchTensors,
} from "./revela/revelaBatch.js";
export {
  type Embedder,
  type RevelaLmLossExtras,
  type RevelaLossOptions,
  type RevelaLossResult,
  revelaLmLoss,
  revelaLoss,
} from "./revela/revelaLoss.js";
export { RevelaTrainer, type RevelaTrainerOptions, sameDocumentWeights } from "./revela/revelaTrainer.js";
export { holdsSameDocumentSiblings, sameDocumentSiblings } from "./revela/sameDocument.js";
export { type WeightStats, weightStats } from "./revela/weightStats.js";
export {
  assignFromRecords,
  type CheckpointData,
  type JsonObject,
  type JsonValue,
  type TensorRecord,
  variablesToRecords,
} from "./run/checkpointData.js";
export { CheckpointStore, type CheckpointStoreOptions, type LoadedCheckpoint } from "./run/checkpointStore.js";
export {
  MetricsLog,
  type MetricsLogOptions,
  RUN_LOGS,
  type RunLog,
  readMetricSeries,
} from "./run/metricsLog.js";
export { type NamedVariables, namedTrainables } from "./run/namedTrainables.js";
export { type ProgressOptions, ProgressReporter } from "./run/progressReporter.js";
export {
  configKeys,
  type PartialConfig,
  parseConfigOverride,
  type ResolveConfigOptions,
  resolveRunConfig,
  writeRunConfig,
} from "./run/runConfig.js";
export { type RunResult, type RunTrainingOptions, runTraining, type StopReason } from "./run/runTraining.js";
export { type StepOutcome, StepRunner, type StepRunnerOptions } from "./run/stepRunner.js";
export type { StepMetrics, Trainable } from "./run/trainable.js";
