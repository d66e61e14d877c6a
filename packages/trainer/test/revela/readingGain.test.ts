import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Batch } from "../../src/data/types.js";
import { otherDocumentWeights, readingGain } from "../../src/revela/readingGain.js";
import { buildRevelaBatch, disposeRevelaBatch } from "../../src/revela/revelaBatch.js";
import { type RevelaLossOptions, revelaLmLoss } from "../../src/revela/revelaLoss.js";
import { sameDocumentWeights } from "../../src/revela/revelaTrainer.js";
import { holdsSameDocumentSiblings, sameDocumentSiblings } from "../../src/revela/sameDocument.js";
import { TEXT_BATCH, TEXTS, tinySetup } from "../support/tinyModels.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

const loss: RevelaLossOptions = {
  temperature: 0.1,
  implementation: "dense",
  topK: 2,
  valueNorm: true,
  dualLoss: false,
};

describe("same-document siblings", () => {
  it("marks each chunk that shares its document with another chunk of the batch", () => {
    expect(sameDocumentSiblings(["a", "b", "a", "c", "c", "d"])).toEqual([true, false, true, true, true, false]);
    expect(sameDocumentSiblings([])).toEqual([]);
  });

  it("tells whether any batch holds two chunks of one document", () => {
    const batch = (ids: string[]): Batch => ({
      epoch: 0,
      index: 0,
      chunks: ids.map((docId, i) => ({ id: `${docId}#${i}`, docId, index: i, text: docId })),
    });
    expect(holdsSameDocumentSiblings([batch(["a", "b"]), batch(["c", "d"])])).toBe(false);
    expect(holdsSameDocumentSiblings([batch(["a", "b"]), batch(["c", "c"])])).toBe(true);
    expect(() => holdsSameDocumentSiblings([{} as Batch])).toThrow(/batches\[0\] has no chunks array/);
  });
});

describe("readingGain", () => {
  it("otherDocumentWeights spreads each row with a sibling over the other documents' chunks", () => {
    const w = otherDocumentWeights(["a", "a", "b", "c"]);
    expect(Array.from(w.dataSync())).toEqual([0, 0, 0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0]);
    w.dispose();
  });

  it("is the pass-2 loss with other documents' chunks minus the loss with same-document siblings", () => {
    const { lm, tokenizers } = tinySetup(4);
    const r = readingGain(lm, [TEXT_BATCH], tokenizers, 32, loss);
    const t = buildRevelaBatch(TEXTS, tokenizers, 32);
    const ids = TEXT_BATCH.chunks.map((c) => c.docId);
    const [same, other] = tf.tidy(() => [
      revelaLmLoss(lm, t, sameDocumentWeights(ids), loss).pass2Loss.dataSync()[0] as number,
      revelaLmLoss(lm, t, otherDocumentWeights(ids), loss).pass2Loss.dataSync()[0] as number,
    ]);
    disposeRevelaBatch(t);
    expect(r.sameDocument).toBeCloseTo(same, 5);
    expect(r.otherDocuments).toBeCloseTo(other, 5);
    expect(r.gain).toBeCloseTo(other - same, 5);
    expect(r.rows).toBe(6);
    lm.dispose();
  });

  it("refuses batches without two chunks of one document, and an empty list", () => {
    const { lm, tokenizers } = tinySetup(6);
    const lonely: Batch = { ...TEXT_BATCH, chunks: TEXT_BATCH.chunks.map((c, i) => ({ ...c, docId: `d${i}` })) };
    expect(() => readingGain(lm, [lonely], tokenizers, 32, loss)).toThrow(/none of the 1 batches holds two chunks/);
    expect(() => readingGain(lm, [], tokenizers, 32, loss)).toThrow(/non-empty array/);
    lm.dispose();
  });
});
