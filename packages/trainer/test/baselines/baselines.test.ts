import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ContrastiveTrainer } from "../../src/baselines/contrastiveTrainer.js";
import { ReplugTrainer } from "../../src/baselines/replugTrainer.js";
import { TEXT_BATCH, TEXTS, tinySetup } from "../support/tinyModels.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

const batch = TEXT_BATCH;

describe("baselines", () => {
  it("contrastive: InfoNCE over crops falls on a fixed batch, and its RNG state round-trips", async () => {
    const { retriever, retrieverModel, tokenizer } = tinySetup(11);
    const options = {
      retriever,
      retrieverModel,
      tokenize: (t: string) => retriever.tokenize(t, "passage"),
      padTokenId: tokenizer.padTokenId,
      temperature: 0.05,
      cropRatio: [0.5, 0.9] as [number, number],
      lr: 3e-3,
      weightDecay: 0,
      maxGradNorm: 1,
      seed: 3,
    };
    const trainer = new ContrastiveTrainer(options);
    const state = await trainer.exportState();
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) losses.push((await trainer.step(batch)).loss);
    expect(Math.min(...losses.slice(4))).toBeLessThan(losses[0] as number);
    // Same weights, optimizer and crop RNG → the same first loss.
    await trainer.importState(state);
    expect((await trainer.step(batch)).loss).toBeCloseTo(losses[0] as number, 5);
    trainer.dispose();
  });

  it("REPLUG: LM scores every ordered pair (diagonal excluded), and the KL loss falls", async () => {
    const { retriever, retrieverModel, lm, tokenizers } = tinySetup(13);
    const trainer = new ReplugTrainer({
      retriever,
      retrieverModel,
      lm,
      tokenizers,
      maxChunkTokens: 16,
      temperature: 0.1,
      lmTemperature: 0.1,
      pairsPerPass: 8,
      lr: 3e-3,
      weightDecay: 0,
      maxGradNorm: 1,
    });
    const b = TEXTS.length;
    const scores = trainer.lmScores(TEXTS);
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < b; j++) {
        const s = scores[i * b + j] as number;
        if (i === j) expect(s).toBe(Number.NEGATIVE_INFINITY);
        else {
          expect(Number.isFinite(s)).toBe(true);
          expect(s).toBeLessThan(0); // a mean log-likelihood
        }
      }
    }
    const losses: number[] = [(await trainer.step(batch)).loss];
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) losses.push((await trainer.step(batch)).loss);
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[5]).toBeLessThan(losses[0] as number);
    trainer.dispose();
  });
});
