import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { crossDocumentAttention, IMPLEMENTATIONS } from "../src/index.js";
import { makeCase } from "./support/fixtures.js";
import { size } from "./support/reference.js";

const c = makeCase({ b: 6, h: 4, hkv: 2, l: 8, d: 4, padded: true, queryMask: true, seed: 2 });

/** The options every memory test runs with: padded keys, a query mask, top-2, dropout. */
function options(
  implementation: (typeof IMPLEMENTATIONS)[number],
  t: ReturnType<typeof c.tensors>,
  weightGradient: "all" | "support",
) {
  return {
    implementation,
    keyPaddingMask: t.keyMask!,
    queryMask: t.queryMask!,
    topK: 2,
    dropout: { rate: 0.1, seed: 3 },
    weightGradient,
  };
}

/** Forward + backward with respect to every input, releasing everything it made. */
function step(
  implementation: (typeof IMPLEMENTATIONS)[number],
  t: ReturnType<typeof c.tensors>,
  weightGradient: "all" | "support" = "all",
) {
  const grads = tf.tidy(() =>
    tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, w: tf.Tensor) =>
      tf.sum(crossDocumentAttention(q, k, v, w, options(implementation, t, weightGradient))),
    )([t.q, t.k, t.v, t.w]),
  );
  tf.dispose(grads);
}

describeEachBackend("memory", () => {
  for (const implementation of IMPLEMENTATIONS) {
    it(`${implementation}: forward + backward leaves tf.memory().numTensors unchanged`, () => {
      const t = c.tensors();
      step(implementation, t); // first call may create lasting state (none expected)
      const before = tf.memory().numTensors;
      step(implementation, t);
      step(implementation, t);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(Object.values(t));
    });
  }

  // streaming by pair (one-hot W, dL/dW on its support): B pairs in one step.
  it("streaming by pair: forward + backward leaves tf.memory().numTensors unchanged; largest tensor B·H·L²", async () => {
    const p = makeCase({
      b: 6,
      h: 4,
      hkv: 2,
      l: 8,
      d: 4,
      padded: true,
      queryMask: true,
      seed: 2,
      weights: "permutation",
    });
    const t = p.tensors();
    step("streaming", t, "support");
    const before = tf.memory().numTensors;
    step("streaming", t, "support");
    expect(tf.memory().numTensors).toBe(before);
    const profile = await tf.profile(() => step("streaming", t, "support"));
    const largest = Math.max(...profile.kernels.flatMap((k) => k.outputShapes.map((s) => size(s ?? []))));
    expect(largest).toBe(p.b * p.h * p.l * p.l);
    tf.dispose(Object.values(t));
  });

  // B·H·L² is one step's scores; B²·H·L² is what `dense` materialises.
  const perStep = c.b * c.h * c.l * c.l;
  for (const implementation of IMPLEMENTATIONS) {
    // Exactly: the profile does see the steps' scores, so the bound is not met vacuously.
    it(`${implementation}: the largest tensor of forward + backward is ${implementation === "dense" ? "B²·H·L²" : "B·H·L²"}`, async () => {
      const t = c.tensors();
      const profile = await tf.profile(() => step(implementation, t));
      const largest = Math.max(...profile.kernels.flatMap((k) => k.outputShapes.map((s) => size(s ?? []))));
      if (implementation === "dense") expect(largest).toBe(c.b * perStep);
      else expect(largest).toBe(perStep);
      tf.dispose(Object.values(t));
    });
  }

  // Under a tape, what the term keeps for backward beyond its inputs: streaming and topk keep q, k,
  // v and W themselves (the tape's clones share their data) and one new buffer, the [B, Hkv, L, 1]
  // value norms. A scaled, regrouped or masked copy of the queries or of the output would each be one
  // more buffer of B·H·L·D floats a layer (issue 15: such copies were 0.6 GiB of a qwen2.5-0.5b step
  // at B 16). Counted as data buffers: tf.memory().numBytes also counts the tape's clones.
  for (const [implementation, weights, weightGradient] of [
    ["streaming", "zero-diagonal", "all"],
    ["streaming", "permutation", "support"],
    ["topk", "zero-diagonal", "all"],
  ] as const) {
    it(`${implementation} (${weights} W): under a tape the term keeps no copy of the queries or of its output`, () => {
      const m = makeCase({ b: 6, h: 4, hkv: 2, l: 8, d: 4, padded: true, queryMask: true, seed: 2, weights });
      const t = m.tensors();
      let kept = -1;
      const grads = tf.tidy(() =>
        tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, w: tf.Tensor) => {
          const before = tf.memory().numDataBuffers;
          // The inner tidy frees every intermediate the tape does not keep.
          const out = tf.tidy(() => crossDocumentAttention(q, k, v, w, options(implementation, t, weightGradient)));
          kept = tf.memory().numDataBuffers - before - 1; // less the output's own buffer
          return tf.sum(out);
        })([t.q, t.k, t.v, t.w]),
      );
      tf.dispose(grads);
      expect(kept).toBe(1);
      tf.dispose(Object.values(t));
    });
  }
});
