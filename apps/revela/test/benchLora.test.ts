import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend } from "@revela/kernels";
import { CausalLM, saveModel } from "@revela/language-model";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runRevela } from "./cliHarness.js";

/** `revela bench --model <dir> --lora-r <n>` times what `train --model` runs: LoRA on a shared frozen base. */

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "revela-bench-lora-"));
  const model = CausalLM.create(
    {
      architectures: ["Qwen2ForCausalLM"],
      model_type: "qwen2",
      vocab_size: 64,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 32,
      tie_word_embeddings: true,
    },
    { seed: 1 },
  );
  await saveModel(model, tmp);
  model.dispose();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it("benchmarks the LoRA path of a checkpoint folder: adapters on one shared frozen base, with the estimated peak", async () => {
  const run = await runRevela([
    "bench",
    "--model",
    tmp,
    "--lora-r",
    "4",
    "--batch-size",
    "3",
    "--seq",
    "8",
    "--steps",
    "1",
    "--implementations",
    "streaming",
    "--backend",
    "cpu",
    "--json",
  ]);
  expect(run.stderr).toMatch(
    /LoRA r 4 α 64 dropout 0\.1 on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj of both models, one frozen base shared/,
  );
  expect(run.stderr).toMatch(/estimated peak: [\d.]+ [KMG]iB \(estimateRunMemory\)/);
  expect(run.code).toBe(0);
  const line = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
  expect(line.implementation).toBe("streaming");
  expect(line.tokensPerSecond as number).toBeCloseTo((3 * 8 * 1000) / (line.medianStepMs as number), 6);
});
