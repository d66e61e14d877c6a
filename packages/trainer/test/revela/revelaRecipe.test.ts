import { initBackend } from "@revela/kernels";
import { enableLora, parseLoraConfig } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Batch } from "../../src/data/types.js";
import { AdamW } from "../../src/optim/adamW.js";
import { clipGradNorm } from "../../src/optim/clipGradNorm.js";
import { buildRevelaBatch, disposeRevelaBatch } from "../../src/revela/revelaBatch.js";
import { type RevelaLossOptions, revelaLoss } from "../../src/revela/revelaLoss.js";
import { RevelaTrainer, sameDocumentWeights } from "../../src/revela/revelaTrainer.js";
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
const half = (part: 0 | 1): Batch => ({ ...TEXT_BATCH, chunks: TEXT_BATCH.chunks.slice(part * 3, part * 3 + 3) });

describe("the LM input follows the official collator", () => {
  it("is the tokenizer's ids (BOS first when it adds one) cut to maxLmTokens, with no EOS appended", () => {
    const { tokenizers } = tinySetup(1);
    const withBos = { ...tokenizers, lmEncode: (t: string) => [7, ...tokenizers.lmEncode(t)] };
    const b = buildRevelaBatch(TEXTS.slice(0, 3), withBos, 6);
    const ids = b.lmIds.arraySync();
    const mask = b.lmMask.arraySync();
    TEXTS.slice(0, 3).forEach((t, i) => {
      const expected = [7, ...tokenizers.lmEncode(t)].slice(0, 6);
      expect(ids[i]?.slice(0, expected.length)).toEqual(expected);
      expect(mask[i]?.filter((m) => m === 1).length).toBe(expected.length);
      expect(expected).not.toContain(tokenizers.lmEosTokenId);
    });
    const long = buildRevelaBatch(TEXTS.slice(0, 2), tokenizers, 64);
    expect(long.lmTokens).toBe(
      tokenizers.lmEncode(TEXTS[0] as string).length + tokenizers.lmEncode(TEXTS[1] as string).length,
    );
    disposeRevelaBatch(b);
    disposeRevelaBatch(long);
  });
});

describe("gradient accumulation", () => {
  it("2 batches per update = one AdamW update with the clipped mean of their gradients", async () => {
    const opts = {
      maxLmTokens: 32,
      retrieverLr: 1e-2,
      lmLr: 2e-2,
      weightDecay: 0.01,
      maxGradNorm: 0.5,
      freezeLm: false,
    };
    const a = tinySetup(4);
    const trainer = new RevelaTrainer({ ...a, loss: lossOptions, ...opts, accumulationSteps: 2 });
    const before = snapshot(a.retrieverModel);
    const m1 = await trainer.step(half(0));
    expect(snapshot(a.retrieverModel)).toEqual(before); // the first batch only accumulates
    expect(m1.updates).toBe(0);
    const m2 = await trainer.step(half(1));
    expect(m2.updates).toBe(1);

    // By hand on identical fresh models: the two gradients, their mean, clipping, one AdamW step.
    const b = tinySetup(4);
    const vars = { ...namedTrainables("retriever", b.retrieverModel), ...namedTrainables("lm", b.lm) };
    const grads = [half(0), half(1)].map((batch) => {
      const t = buildRevelaBatch(
        batch.chunks.map((c) => c.text),
        b.tokenizers,
        32,
      );
      const g = tf.variableGrads(() => revelaLoss(b.retriever, b.lm, t, lossOptions).loss, Object.values(vars));
      disposeRevelaBatch(t);
      g.value.dispose();
      return g.grads;
    });
    const mean: tf.NamedTensorMap = {};
    for (const name of Object.keys(grads[0] as tf.NamedTensorMap))
      mean[name] = tf.div(tf.add(grads[0]![name]!, grads[1]![name]!), 2);
    clipGradNorm(mean, opts.maxGradNorm);
    const optimizer = new AdamW(
      [
        {
          name: "retriever",
          params: Object.values(namedTrainables("retriever", b.retrieverModel)),
          lr: opts.retrieverLr,
        },
        { name: "lm", params: Object.values(namedTrainables("lm", b.lm)), lr: opts.lmLr },
      ],
      { weightDecay: opts.weightDecay },
    );
    optimizer.step(mean);
    const got = snapshot(a.retrieverModel);
    const want = snapshot(b.retrieverModel);
    let moved = 0;
    for (const name of Object.keys(want)) {
      const g = got[name] as number[];
      const w = want[name] as number[];
      w.forEach((x, i) => {
        expect(Math.abs((g[i] as number) - x), name).toBeLessThan(1e-5);
        moved = Math.max(moved, Math.abs(x - ((before[name] as number[])[i] as number)));
      });
    }
    expect(moved).toBeGreaterThan(1e-3);
    tf.dispose([grads, mean]);
    optimizer.dispose();
    trainer.dispose();
  });

  it("refuses a bad accumulationSteps, naming it", () => {
    const a = tinySetup(4);
    const base = {
      ...a,
      loss: lossOptions,
      maxLmTokens: 32,
      retrieverLr: 1e-3,
      lmLr: 1e-3,
      weightDecay: 0,
      maxGradNorm: 1,
      freezeLm: false,
    };
    expect(() => new RevelaTrainer({ ...base, accumulationSteps: 0 })).toThrow(
      /accumulationSteps must be an integer ≥ 1, got 0/,
    );
  });
});

describe("weightsFrom sameDocument (an LM warm-up through the in-batch term)", () => {
  it("trains only the LM, with W spread over each chunk's same-document siblings", async () => {
    const a = tinySetup(8);
    const trainer = new RevelaTrainer({
      ...a,
      loss: lossOptions,
      maxLmTokens: 32,
      retrieverLr: 1e-2,
      lmLr: 1e-2,
      weightDecay: 0,
      maxGradNorm: 1,
      freezeLm: false,
      weightsFrom: "sameDocument",
    });
    const retrieverBefore = snapshot(a.retrieverModel);
    const lmBefore = snapshot(a.lm);
    const first = await trainer.step(TEXT_BATCH);
    const second = await trainer.step(TEXT_BATCH);
    expect(second.loss).toBeLessThan(first.loss);
    expect(first.sameDocumentMass).toBe(1);
    expect(snapshot(a.retrieverModel)).toEqual(retrieverBefore);
    expect(snapshot(a.lm)).not.toEqual(lmBefore);
    trainer.dispose();
  });

  it("gives rows without a sibling no in-batch term", () => {
    const w = sameDocumentWeights(["a", "b", "a", "a"]);
    expect(Array.from(w.dataSync())).toEqual([0, 0, 0.5, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0.5, 0.5, 0, 0.5, 0]);
    w.dispose();
  });
});

describe("training mode", () => {
  it("turns LoRA dropout on in both models: seeded masks, different per batch seed", () => {
    const { lm, retrieverModel, retriever, tokenizers } = tinySetup(6);
    const lora = parseLoraConfig(
      { r: 4, lora_alpha: 8, lora_dropout: 0.5, target_modules: ["q_proj", "v_proj"] },
      "test",
    );
    enableLora(lm, lora, { seed: 1 });
    enableLora(retrieverModel, lora, { seed: 2 });
    // lora_B starts at 0 (no effect); give it values so that dropout on the adapter's input shows.
    for (const m of [lm, retrieverModel])
      for (const adapter of m.lora.values()) adapter.b.assign(tf.randomNormal(adapter.b.shape, 0, 0.5, "float32", 3));
    const t = buildRevelaBatch(TEXTS, tokenizers, 32);
    const loss = (training?: { seed: number }) =>
      tf.tidy(() => revelaLoss(retriever, lm, t, lossOptions, training).loss.dataSync()[0] as number);
    const evalLoss = loss();
    expect(loss({ seed: 1 })).toBe(loss({ seed: 1 }));
    expect(loss({ seed: 1 })).not.toBe(loss({ seed: 2 }));
    expect(loss({ seed: 1 })).not.toBe(evalLoss);
    expect(loss()).toBe(evalLoss); // evaluation stays deterministic
    disposeRevelaBatch(t);
  });
});

function snapshot(model: { params: Map<string, tf.Variable> }): Record<string, number[]> {
  return Object.fromEntries([...model.params].map(([n, v]) => [n, Array.from(v.dataSync())]));
}
