import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { initBackend } from "@revela/kernels";
import { enableLora, parseLoraConfig } from "@revela/language-model";
import type * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConsecutiveBatcher } from "../../src/data/consecutiveBatcher.js";
import { LrSchedule } from "../../src/optim/lrSchedule.js";
import { RevelaTrainer } from "../../src/revela/revelaTrainer.js";
import { namedTrainables } from "../../src/run/namedTrainables.js";
import { runTraining } from "../../src/run/runTraining.js";
import { TEXT_BATCH, tinySetup } from "../support/tinyModels.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});
const root = mkdtempSync(path.join(os.tmpdir(), "revela-resume-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const silent = { stream: new Writable({ write: (_c, _e, done) => done() }), tty: false as const };

/** A fresh retriever, LM, trainer and batcher — as a new process builds them — trained over runDir. */
async function train(
  runDir: string,
  steps: number,
  resume: boolean,
  variant: { accumulationSteps?: number; loraDropout?: number; checkpointEvery?: number } = {},
) {
  const { lm, retrieverModel, retriever, tokenizers } = tinySetup(5);
  if (variant.loraDropout !== undefined) {
    const lora = parseLoraConfig(
      { r: 4, lora_alpha: 8, lora_dropout: variant.loraDropout, target_modules: ["q_proj", "v_proj", "up_proj"] },
      "test",
    );
    enableLora(lm, lora, { seed: 1 });
    enableLora(retrieverModel, lora, { seed: 2 });
  }
  const trainer = new RevelaTrainer({
    retriever,
    retrieverModel,
    lm,
    tokenizers,
    loss: {
      temperature: 0.05,
      implementation: "streaming",
      topK: 2,
      valueNorm: true,
      dualLoss: true,
      dropout: { rate: 0.1, seed: 3 },
    },
    maxLmTokens: 32,
    retrieverLr: 1e-3,
    lmLr: 3e-3,
    weightDecay: 0.01,
    maxGradNorm: 1,
    freezeLm: false,
    // Warm-up then decay: a resumed run must continue the schedule, not restart it.
    schedule: new LrSchedule({ kind: "cosine", warmupSteps: 2, totalSteps: 8 }),
    ...(variant.accumulationSteps ? { accumulationSteps: variant.accumulationSteps } : {}),
    seed: 9,
  });
  const batches = new ConsecutiveBatcher(TEXT_BATCH.chunks, { batchSize: 3, seed: 11 });
  const result = await runTraining({
    runDir,
    config: { test: "revela-resume" },
    trainer,
    batches,
    steps,
    checkpointEvery: variant.checkpointEvery ?? 2,
    progress: silent,
    ...(resume ? { resume: "latest" as const } : {}),
  });
  const snapshot = (vars: Record<string, tf.Variable>) =>
    Object.fromEntries(Object.entries(vars).map(([name, v]) => [name, Array.from(v.dataSync())]));
  const out = {
    result,
    retriever: snapshot(namedTrainables("retriever", retrieverModel)),
    lm: snapshot(namedTrainables("lm", lm)),
    batcher: batches.state(),
  };
  lm.dispose();
  retrieverModel.dispose();
  return out;
}

it("RevelaTrainer: 3 steps, resume, 3 more gives the same retriever and LM weights as 6 steps", async () => {
  const straight = await train(path.join(root, "straight"), 6, false);
  expect(straight.result).toMatchObject({ step: 6, stepsThisRun: 6 });
  const splitDir = path.join(root, "split");
  const first = await train(splitDir, 3, false);
  expect(first.retriever).not.toEqual(straight.retriever);
  const second = await train(splitDir, 6, true);
  expect(second.result).toMatchObject({ step: 6, stepsThisRun: 3 });
  // Bit-identical: toEqual on plain numbers compares every float exactly.
  expect(second.retriever).toEqual(straight.retriever);
  expect(second.lm).toEqual(straight.lm);
  expect(second.batcher).toEqual(straight.batcher);
  // The check can fail: a different seed's run differs.
  expect(Object.keys(straight.lm).length).toBeGreaterThan(10);
});

it("resumes mid-accumulation with LoRA dropout: 3 batches (1 update + 1 batch summed), resume, 4 more = 7 straight", async () => {
  // 2 batches per update and a checkpoint after batch 3: the checkpoint holds half an update's
  // gradient sum and the dropout-mask counter, which the resumed run must continue from exactly.
  const variant = { accumulationSteps: 2, loraDropout: 0.2, checkpointEvery: 3 };
  const straight = await train(path.join(root, "acc-straight"), 7, false, variant);
  const splitDir = path.join(root, "acc-split");
  const first = await train(splitDir, 3, false, variant);
  expect(first.retriever).not.toEqual(straight.retriever);
  const second = await train(splitDir, 7, true, variant);
  expect(second.result).toMatchObject({ step: 7, stepsThisRun: 4 });
  expect(second.retriever).toEqual(straight.retriever);
  expect(second.lm).toEqual(straight.lm);
  // Only LoRA weights train, and they did move.
  expect(Object.keys(straight.lm).every((n) => n.includes("lora_"))).toBe(true);
});
