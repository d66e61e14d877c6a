import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, it } from "vitest";
import type { Batch } from "../../src/data/types.js";
import { LanguageModelTrainer } from "../../src/lm/languageModelTrainer.js";
import { TEXTS, tinySetup } from "../support/tinyModels.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

it("warms the LM up by next-token training: the loss falls, nothing leaks, state round-trips", async () => {
  const { lm, tokenizer } = tinySetup(9);
  const options = {
    lm,
    encode: (t: string) => tokenizer.encode(t),
    eosTokenId: tokenizer.eosTokenId,
    padTokenId: tokenizer.padTokenId,
    maxTokens: 32,
    lr: 3e-3,
    weightDecay: 0,
    maxGradNorm: 1,
  };
  const trainer = new LanguageModelTrainer(options);
  const batch: Batch = {
    chunks: TEXTS.map((text, i) => ({ id: `d${i}#0`, docId: `d${i}`, index: 0, text })),
    epoch: 0,
    index: 0,
  };
  const first = await trainer.step(batch);
  const state = await trainer.exportState();
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 5; i++) last = await trainer.step(batch);
  expect(tf.memory().numTensors).toBe(before);
  expect(last.loss).toBeLessThan(first.loss);
  // Restoring the state after step 1 and stepping again reproduces step 2 exactly.
  const replay = new LanguageModelTrainer(options);
  await replay.importState(state);
  const again = await replay.step(batch);
  await trainer.importState(state);
  const original = await trainer.step(batch);
  expect(again.loss).toBe(original.loss);
  trainer.dispose();
  replay.dispose();
});
