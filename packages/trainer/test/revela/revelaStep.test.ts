import { documentWeights } from "@revela/inbatch-attention";
import { IGNORE_INDEX, initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { buildRevelaBatch, disposeRevelaBatch } from "../../src/revela/revelaBatch.js";
import { type RevelaLossOptions, revelaLmLoss, revelaLoss } from "../../src/revela/revelaLoss.js";
import { RevelaTrainer } from "../../src/revela/revelaTrainer.js";
import { namedTrainables } from "../../src/run/namedTrainables.js";
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

  it("revelaLmLoss with labels scores only the labelled tokens; W = 0 is pass 2 without the in-batch term", () => {
    const { lm, tokenizers } = tinySetup(4);
    const tensors = buildRevelaBatch(TEXTS, tokenizers, 32);
    const [b, l] = tensors.lmIds.shape as [number, number];
    const ids = tensors.lmIds.arraySync() as number[][];
    const mask = tensors.lmMask.arraySync() as number[][];
    // Every real token as a label is the default; every third one is a subset.
    const all = ids.map((row, r) => row.map((id, t) => ((mask[r] as number[])[t] ? id : IGNORE_INDEX)));
    const some = all.map((row) => row.map((id, t) => (t % 3 === 1 ? id : IGNORE_INDEX)));
    const allT = tf.tensor2d(all, [b, l], "int32");
    const someT = tf.tensor2d(some, [b, l], "int32");
    const uniform = tf.tidy(() => tf.div(tf.sub(tf.ones([b, b]), tf.eye(b)), b - 1));
    const zero = tf.zeros([b, b]);
    const read = (t: tf.Tensor) => t.dataSync()[0] as number;
    const loss = (w: tf.Tensor, labels?: tf.Tensor2D) =>
      tf.tidy(() => read(revelaLmLoss(lm, tensors, w, lossOptions, undefined, labels ? { labels } : {}).loss));
    expect(loss(uniform, allT)).toBe(loss(uniform));
    expect(Math.abs(loss(uniform, someT) - loss(uniform))).toBeGreaterThan(1e-3);
    // With W = 0 the labelled loss is the plain LM's mean −log p over the labelled tokens, shifted by one.
    const logits = lm.forward(tensors.lmIds, tensors.lmMask).logits as tf.Tensor3D;
    const logProbs = tf.tidy(() => tf.logSoftmax(logits).arraySync() as number[][][]);
    let sum = 0;
    let n = 0;
    for (let r = 0; r < b; r++) {
      for (let t = 1; t < l; t++) {
        const y = (some[r] as number[])[t] as number;
        if (y === IGNORE_INDEX) continue;
        sum -= ((logProbs[r] as number[][])[t - 1] as number[])[y] as number;
        n++;
      }
    }
    expect(n).toBeGreaterThan(3);
    expect(loss(zero, someT)).toBeCloseTo(sum / n, 5);
    expect(() =>
      revelaLmLoss(lm, tensors, zero, lossOptions, undefined, { labels: tf.zeros([b, l]) as tf.Tensor2D }),
    ).toThrow(
      /revelaLmLoss: extras\.labels must be an int32 tensor \[\d+, \d+\] \(the LM batch's shape\), got float32/,
    );
    tf.dispose([allT, someT, uniform, zero, logits]);
    disposeRevelaBatch(tensors);
  });
});
