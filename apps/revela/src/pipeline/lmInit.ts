import fs from "node:fs";
import path from "node:path";
import { type CausalLM, readCheckpointTensors, SAFE_WEIGHTS_NAME, VOCAB_COMPACTION_FILE } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";

/**
 * `model.lmInit` (`--lm-init <dir>`): the from-scratch LM starts from weights pretrained earlier on raw
 * text (e.g. by `experiments/pretrainReader.mjs`) instead of a random init. The folder holds those
 * weights (`model.safetensors`) and the compact vocabulary they were trained with
 * (`vocab_compaction.json`), which the run then uses in place of one computed from its corpus —
 * token ids must mean what they meant in pretraining.
 *
 * Why: the retriever learns only from how much the LM's loss depends on which chunks it reads; an LM
 * trained from scratch for minutes gives that gradient no useful direction (apps/revela README, "Real
 * text"). Pretraining is the paper's premise; this is its from-scratch, CPU-sized stand-in.
 */
export function checkLmInitDir(dir: string): void {
  for (const file of [SAFE_WEIGHTS_NAME, VOCAB_COMPACTION_FILE]) {
    if (!fs.existsSync(path.join(dir, file)))
      throw new Error(`model.lmInit (--lm-init ${dir}): ${path.join(dir, file)} does not exist`);
  }
}

/** Overwrites every parameter of `lm` with the folder's tensor of that name, refusing any missing or misshapen one. */
export async function loadLmInit(lm: CausalLM, dir: string): Promise<void> {
  checkLmInitDir(dir);
  const saved = await readCheckpointTensors(dir);
  for (const [name, variable] of lm.params) {
    const t = saved.get(name);
    if (!t)
      throw new Error(
        `model.lmInit (--lm-init ${dir}): ${SAFE_WEIGHTS_NAME} has no tensor "${name}" — it was saved from a model of another shape (model.layers, model.hiddenSize …)`,
      );
    if (t.shape.join() !== variable.shape.join())
      throw new Error(
        `model.lmInit (--lm-init ${dir}): "${name}" is [${t.shape.join(", ")}], the LM's is [${variable.shape.join(", ")}] — set model.hiddenSize, model.ffn, model.heads and model.kvHeads to the pretrained model's`,
      );
    const value = tf.tensor(t.data, t.shape);
    variable.assign(value);
    value.dispose();
  }
  const extra = [...saved.keys()].filter((n) => !lm.params.has(n));
  if (extra.length > 0)
    throw new Error(
      `model.lmInit (--lm-init ${dir}): ${extra.length} tensor(s) the LM does not have, e.g. "${extra[0]}" — it was saved from a model with more layers (model.layers)`,
    );
}
