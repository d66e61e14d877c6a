import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseLoraConfig } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRetriever, Retriever, saveRetriever } from "../../src/index.js";
import { CORPUS, compactLlama3, llama3, tinyConfig, tinyRetriever } from "../support/tinyRetriever.js";

/** Every retriever constructor, then dispose: tf.memory() must be back where it started. */

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "revela-retriever-memory-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const LORA = parseLoraConfig({ r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"] });

async function expectNoLeak(make: () => Promise<void>): Promise<void> {
  await make(); // the first call may create lasting backend state (kernels, caches)
  const before = tf.memory();
  // One more round shows a leak; each round loads the 9 MB tokenizer (and a 16 MB model) again.
  await make();
  const after = tf.memory();
  expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({
    numTensors: before.numTensors,
    numBytes: before.numBytes,
  });
}

describe("retriever construct → dispose leaves tf.memory() unchanged", () => {
  it("Retriever.create, encode, enableLora", async () => {
    const tokenizer = await compactLlama3();
    await tinyRetriever(); // starts the backend
    await expectNoLeak(async () => {
      const retriever = Retriever.create({ config: tinyConfig(tokenizer.vocabSize), tokenizer, seed: 1 });
      await retriever.encodeQueries(CORPUS.slice(0, 2));
      retriever.enableLora(LORA, { seed: 1 });
      retriever.dispose();
    });
  });

  it("loadRetriever of a saved directory (plain and with a LoRA adapter) and of model + adapter", async () => {
    const plain = await tinyRetriever({}, 2);
    const plainDir = join(scratch, "plain");
    await saveRetriever(plain, plainDir);
    plain.dispose();
    // A published-style adapter needs the full vocabulary (no compaction): 128k × 32 floats.
    const tokenizer = await llama3();
    const withLora = Retriever.create({ config: tinyConfig(tokenizer.vocabSize), tokenizer, seed: 3 });
    withLora.enableLora(LORA, { seed: 3 });
    const loraDir = join(scratch, "lora");
    await saveRetriever(withLora, loraDir);
    withLora.dispose();
    const base = join(scratch, "base");
    await mkdir(base);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
      await cp(join(loraDir, f), join(base, f));

    await expectNoLeak(async () => {
      const a = await loadRetriever(plainDir);
      await a.encodePassages(CORPUS.slice(0, 2));
      a.dispose();
      (await loadRetriever(loraDir)).dispose();
      (await loadRetriever({ model: base, adapter: join(loraDir, "adapter") })).dispose();
    });
  });
});
