import { documentWeights } from "@revela/inbatch-attention";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { buildRevelaBatch, disposeRevelaBatch } from "../../src/revela/revelaBatch.js";
import { type RevelaLossOptions, revelaLmLoss, revelaLoss } from "../../src/revela/revelaLoss.js";
import { namedTrainables, RevelaTrainer } from "../../src/revela/revelaTrainer.js";
import { TEXT_BATCH, TEXTS, tinySetup } from "../support/tinyModels.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

const lossOptions: RevelaLossOptions = {
  temperature: 0.1,
  implementation: "dense",
  topK: 2,
  valueNorm: true,
  dualLoss: false,
};

const batch = TEXT_BATCH;

describe("the Revela step", () => {
  it("reaches the retriever only through W: its gradient equals the chain rule through W", () => {
    const { lm, retrieverModel, retriever, tokenizers } = tinySetup(3);
    const tensors = buildRevelaBatch(TEXTS, tokenizers, 32);
    const vars = Object.values(namedTrainables("retriever", retrieverModel));
    const direct = tf.variableGrads(() => revelaLoss(retriever, lm, tensors, lossOptions).loss, vars);
    // dL/dW at the current W, then the vector–Jacobian product of W(θ) with it.
    const w0 = tf.tidy(() =>
      documentWeights(
        retriever.embed(tensors.queryIds, tensors.queryMask),
        retriever.embed(tensors.passageIds, tensors.passageMask),
        {
          temperature: lossOptions.temperature,
        },
      ),
    );
    const dW = tf.grad((w: tf.Tensor) => revelaLmLoss(lm, tensors, w, lossOptions).loss)(w0);
    const chain = tf.variableGrads(
      () =>
        tf.sum(
          tf.mul(
            documentWeights(
              retriever.embed(tensors.queryIds, tensors.queryMask),
              retriever.embed(tensors.passageIds, tensors.passageMask),
              {
                temperature: lossOptions.temperature,
              },
            ),
            dW,
          ),
        ) as tf.Scalar,
      vars,
    );
    let total = 0;
    for (const v of vars) {
      const a = direct.grads[v.name]!.dataSync();
      const b = chain.grads[v.name]!.dataSync();
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(b[i]!));
      }
      total += scale;
      expect(diff, v.name).toBeLessThanOrEqual(1e-5 + 1e-3 * scale);
    }
    expect(total).toBeGreaterThan(0); // the retriever does receive a gradient
    tf.dispose([direct.value, direct.grads, chain.value, chain.grads, w0, dW]);
    disposeRevelaBatch(tensors);
  });

  it("one step on a fixed batch lowers the loss, for every in-batch implementation", async () => {
    for (const implementation of ["dense", "streaming", "topk"] as const) {
      const { lm, retrieverModel, retriever, tokenizers } = tinySetup(5);
      const trainer = new RevelaTrainer({
        retriever,
        retrieverModel,
        lm,
        tokenizers,
        loss: { ...lossOptions, implementation },
        maxLmTokens: 32,
        retrieverLr: 1e-3,
        lmLr: 3e-3,
        weightDecay: 0,
        maxGradNorm: 1,
        freezeLm: false,
      });
      const first = await trainer.step(batch);
      const second = await trainer.step(batch);
      expect(second.loss, implementation).toBeLessThan(first.loss);
      expect(first.retrieverGradNorm, implementation).toBeGreaterThan(0);
      expect(first.meanMaxWeight).toBeGreaterThan(1 / TEXTS.length);
      expect(first.sameDocumentMass).toBeGreaterThanOrEqual(0);
      trainer.dispose();
      lm.dispose();
      retrieverModel.dispose();
    }
  });

  it("leaves tf.memory().numTensors unchanged across steps", async () => {
    const { lm, retrieverModel, retriever, tokenizers } = tinySetup(7);
    const trainer = new RevelaTrainer({
      retriever,
      retrieverModel,
      lm,
      tokenizers,
      loss: lossOptions,
      maxLmTokens: 32,
      retrieverLr: 1e-3,
      lmLr: 1e-3,
      weightDecay: 0.01,
      maxGradNorm: 1,
      freezeLm: true,
    });
    await trainer.step(batch);
    const before = tf.memory().numTensors;
    await trainer.step(batch);
    await trainer.step(batch);
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
  });
});
