import type * as tf from "@tensorflow/tfjs";
import type { AdamW } from "../optim/adamW.js";
import { assignFromRecords, type CheckpointData, type JsonObject, variablesToRecords } from "./checkpointData.js";

/**
 * The checkpoint of a trainer made of named variables and one AdamW: the variables under their
 * stable names, the optimizer's moments, and `state.optimizer` (+ any `extra` JSON the trainer adds).
 */
export function exportTrainerState(
  vars: Record<string, tf.Variable>,
  optimizer: AdamW,
  extra: JsonObject = {},
): CheckpointData {
  const opt = optimizer.exportState();
  return { tensors: { ...variablesToRecords(vars), ...opt.tensors }, state: { ...extra, optimizer: opt.state } };
}

/** Restores `exportTrainerState` output; `where` names the trainer in errors. */
export function importTrainerState(
  vars: Record<string, tf.Variable>,
  optimizer: AdamW,
  data: CheckpointData,
  where: string,
): void {
  assignFromRecords(vars, data.tensors);
  const optState = data.state.optimizer;
  if (optState === null || typeof optState !== "object" || Array.isArray(optState)) {
    throw new Error(`${where}: the checkpoint state has no optimizer entry`);
  }
  optimizer.importState({ tensors: data.tensors, state: optState });
}
