import { initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import { beforeAll, expect, it } from "vitest";
import { copyWeights, scratchLlamaConfig } from "../src/pipeline/models.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

const shape = { vocab: 30, hiddenSize: 8, layers: 1, heads: 2, kvHeads: 1, ffn: 12 };

it("copyWeights gives a backbone the LM's weights by name, and names a missing or misshapen one", () => {
  const lm = CausalLM.create(scratchLlamaConfig(shape, 16), { seed: 1 });
  const backbone = CausalLM.create(scratchLlamaConfig(shape, 16), { seed: 2, backbone: true });
  const name = "model.layers.0.mlp.up_proj.weight";
  expect(Array.from(backbone.params.get(name)?.dataSync() ?? [])).not.toEqual(
    Array.from(lm.params.get(name)?.dataSync() ?? []),
  );
  copyWeights(lm.params, backbone);
  for (const [n, v] of backbone.params) {
    expect(Array.from(v.dataSync()), n).toEqual(Array.from(lm.params.get(n)?.dataSync() ?? []));
  }
  const wider = CausalLM.create(scratchLlamaConfig({ ...shape, ffn: 16 }, 16), { seed: 3, backbone: true });
  expect(() => copyWeights(lm.params, wider)).toThrow(
    /copyWeights: "model\.layers\.0\.mlp\.gate_proj\.weight" is \[12, 8\] in the source and \[16, 8\] in the target/,
  );
  const partial = new Map([...lm.params].filter(([n]) => n !== name));
  expect(() => copyWeights(partial, backbone)).toThrow(`copyWeights: the source has no weight "${name}"`);
  for (const m of [lm, backbone, wider]) m.dispose();
});
