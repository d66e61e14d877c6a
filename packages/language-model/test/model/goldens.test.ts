import { describeEachBackend } from "@revela/test-backends";
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { loadPretrained, mergeLora } from "../../src/index.js";
import { maxAbsDiff, readGoldens } from "../support/goldens.js";

/** Logits, loss, gradients and LoRA outputs against an independent PyTorch implementation (float64). */

for (const name of ["tiny-llama", "tiny-qwen2", "tiny-llama-bf16"]) {
  describeEachBackend(`goldens: ${name}`, () => {
    const { dir, goldens } = readGoldens(name);
    const inputs = () => ({
      ids: tf.tensor2d(goldens.input_ids, undefined, "int32"),
      mask: tf.tensor2d(goldens.attention_mask, undefined, "int32"),
    });

    it("matches PyTorch logits and loss to 1e-4", async () => {
      const model = await loadPretrained(dir);
      const { ids, mask } = inputs();
      const out = model.forward(ids, mask, { computeLoss: true });
      expect(out.logits!.shape).toEqual(goldens.logits_shape);
      expect(maxAbsDiff(out.logits!.dataSync(), goldens.logits)).toBeLessThan(1e-4);
      expect(Math.abs((out.loss!.dataSync()[0] as number) - goldens.loss)).toBeLessThan(1e-4);
      tf.dispose([ids, mask, out.logits!, out.loss!, out.lastHiddenState]);
      model.dispose();
    });

    it("matches PyTorch gradients to 1e-4", async () => {
      const model = await loadPretrained(dir);
      const { ids, mask } = inputs();
      const names = Object.keys(goldens.grads);
      const vars = names.map((n) => model.params.get(n)!);
      const { value, grads } = tf.variableGrads(() => {
        const o = model.forward(ids, mask, { computeLoss: true, returnLogits: false });
        return o.loss!;
      }, vars);
      for (const n of names) {
        const g = grads[model.params.get(n)!.name]!;
        expect(g.shape, n).toEqual(goldens.grads[n]!.shape);
        const ref = goldens.grads[n]!.values;
        const scale = Math.max(1, ...ref.map(Math.abs));
        expect(maxAbsDiff(g.dataSync(), ref) / scale, `gradient of ${n}`).toBeLessThan(1e-4);
      }
      tf.dispose([ids, mask, value, grads]);
      model.dispose();
    });

    it("applies the PEFT LoRA adapter exactly, and merging it changes nothing", async () => {
      const model = await loadPretrained(dir, { adapter: `${dir}/lora` });
      const { ids, mask } = inputs();
      const withLora = model.forward(ids, mask);
      expect(maxAbsDiff(withLora.logits!.dataSync(), goldens.lora_logits)).toBeLessThan(1e-4);
      // The adapter really changes the output (the test would pass vacuously otherwise).
      expect(maxAbsDiff(goldens.lora_logits, goldens.logits)).toBeGreaterThan(1e-2);
      mergeLora(model);
      const merged = model.forward(ids, mask);
      expect(maxAbsDiff(merged.logits!.dataSync(), goldens.merged_logits)).toBeLessThan(1e-4);
      expect(maxAbsDiff(merged.logits!.dataSync(), withLora.logits!.dataSync())).toBeLessThan(1e-4);
      tf.dispose([ids, mask, withLora.logits!, withLora.lastHiddenState, merged.logits!, merged.lastHiddenState]);
      model.dispose();
    });
  });
}
