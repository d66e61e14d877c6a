import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { crossDocumentAttention, IMPLEMENTATIONS } from "../src/index.js";
import { makeCase } from "./support/fixtures.js";
import { size } from "./support/reference.js";

const c = makeCase({ b: 6, h: 4, hkv: 2, l: 8, d: 4, padded: true, queryMask: true, seed: 2 });

/** Forward + backward with respect to every input, releasing everything it made. */
function step(
  implementation: (typeof IMPLEMENTATIONS)[number],
  t: ReturnType<typeof c.tensors>,
  weightGradient: "all" | "support" = "all",
) {
  const grads = tf.tidy(() =>
    tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, w: tf.Tensor) =>
      tf.sum(
        crossDocumentAttention(q, k, v, w, {
          implementation,
          keyPaddingMask: t.keyMask!,
          queryMask: t.queryMask!,
          topK: 2,
          dropout: { rate: 0.1, seed: 3 },
          weightGradient,
        }),
      ),
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
});
