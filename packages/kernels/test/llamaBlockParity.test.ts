import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { initBackend } from "../src/index.js";
import { type BlockConfig, blockInputTensors, blockStep, makeBlockWeights, makeRope } from "./support/llamaBlock.js";
import { maxAbsDiff } from "./support/reference.js";

/** A whole LLaMA block with embedding, LM head and loss: forward + backward must agree across backends. */
const cfg: BlockConfig = { d: 64, heads: 4, kvHeads: 2, ffn: 96, seq: 16, batch: 3, vocab: 97 };

async function runOn(backend: "cpu" | "wasm") {
  await initBackend({ backend });
  const w = makeBlockWeights(cfg, 5);
  const { ids, mask, labels } = blockInputTensors(cfg, 9);
  const rope = makeRope(cfg);
  const { value, grads } = blockStep(cfg, w, ids, mask, labels, rope);
  const out = {
    loss: value.dataSync()[0] as number,
    grads: Object.fromEntries(
      Object.entries(grads).map(([name, g]) => [name.split("/")[1] as string, g.dataSync().slice()]),
    ),
  };
  tf.dispose([value, grads, ids, mask, labels, rope.cos, rope.sin, Object.values(w)]);
  return out;
}

describe("LLaMA block forward+backward: cpu–wasm parity", () => {
  it("gives the same loss and gradients for every weight on cpu and wasm", async () => {
    const cpu = await runOn("cpu");
    const wasm = await runOn("wasm");
    expect(Number.isFinite(cpu.loss)).toBe(true);
    expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(cpu.loss)));
    const names = Object.keys(cpu.grads).sort();
    expect(names).toEqual(["embed", "head", "norm1", "norm2", "wDown", "wGate", "wUp", "wk", "wo", "wq", "wv"]);
    expect(Object.keys(wasm.grads).sort()).toEqual(names);
    for (const name of names) {
      const a = cpu.grads[name] as Float32Array;
      const b = wasm.grads[name] as Float32Array;
      const scale = Math.max(...Array.from(a, Math.abs));
      expect(scale, `gradient of ${name} is all zeros`).toBeGreaterThan(0);
      expect(maxAbsDiff(a, b) / scale, `gradient of ${name}`).toBeLessThan(1e-4);
    }
  });
});
