import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPretrained, parseLoraConfig } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRetriever, RETRIEVER_CONFIG_FILE, Retriever, saveRetriever } from "../../src/index.js";
import { CORPUS, llama3, tinyConfig, tinyRetriever } from "../support/tinyRetriever.js";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "revela-retriever-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const LORA = parseLoraConfig({ r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"] });

/** Gives the LoRA B matrices non-zero values, so that the adapter changes the embeddings. */
function perturbLora(retriever: Retriever): void {
  let i = 0;
  for (const adapter of retriever.backbone.lora.values())
    adapter.b.assign(tf.randomNormal(adapter.b.shape, 0, 0.5, "float32", i++));
}

describe("saveRetriever / loadRetriever", () => {
  it("round-trips a retriever with a compact vocabulary: same options, same vectors", async () => {
    const retriever = await tinyRetriever({ pooling: "mean", queryPrefix: "q: ", maxLength: 64 });
    const dir = join(scratch, "compact");
    await saveRetriever(retriever, dir);
    const config = JSON.parse(await readFile(join(dir, RETRIEVER_CONFIG_FILE), "utf8"));
    expect(config).toMatchObject({
      format: "revela-retriever",
      version: 1,
      dimensions: 32,
      adapter: null,
      vocabCompaction: true,
    });
    const loaded = await loadRetriever(dir);
    expect(loaded.options).toEqual(retriever.options);
    expect(loaded.tokenizer.vocabSize).toBe(retriever.tokenizer.vocabSize);
    expect((await loaded.encodeQueries(CORPUS)).data).toEqual((await retriever.encodeQueries(CORPUS)).data);
    // A loaded retriever saves again (its tokenizer files are in its own directory).
    await saveRetriever(loaded, join(scratch, "compact-again"));
    expect(await readFile(join(scratch, "compact-again", "model.safetensors"))).toEqual(
      await readFile(join(dir, "model.safetensors")),
    );
  });

  it("round-trips a retriever with its own LoRA adapter (PEFT files in adapter/)", async () => {
    const retriever = await tinyRetriever({}, 3);
    retriever.enableLora(LORA, { seed: 1 });
    perturbLora(retriever);
    const dir = join(scratch, "lora");
    await saveRetriever(retriever, dir);
    const expected = await retriever.encodePassages(CORPUS);
    // @revela/language-model 0.1.0 names LoRA variables per module, not per model, so two models
    // with adapters cannot be alive at once in one process: release this one before loading.
    retriever.dispose();
    const adapterConfig = JSON.parse(await readFile(join(dir, "adapter", "adapter_config.json"), "utf8"));
    expect(adapterConfig).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8 });
    const loaded = await loadRetriever(dir);
    expect(loaded.lora?.r).toBe(4);
    expect(loaded.backbone.lora.size).toBe(4); // q_proj, v_proj × 2 layers
    expect((await loaded.encodePassages(CORPUS)).data).toEqual(expected.data);
    loaded.dispose();
    // The base weights alone give other vectors: the adapter was applied, not dropped.
    const base = new Retriever({
      backbone: await loadPretrained(dir, { backbone: true }),
      tokenizer: loaded.tokenizer,
    });
    const baseVectors = await base.encodePassages(CORPUS);
    expect(Math.max(...baseVectors.data.map((v, i) => Math.abs(v - expected.data[i]!)))).toBeGreaterThan(1e-3);
  });

  it("loads a base model + PEFT adapter directory with default (Revela) options", async () => {
    const tokenizer = await llama3();
    // The full Llama-3 vocabulary (no compaction, as a published checkpoint): 128k × 32 floats.
    const retriever = Retriever.create({ config: tinyConfig(tokenizer.vocabSize), tokenizer, seed: 5 });
    retriever.enableLora(LORA, { seed: 2 });
    perturbLora(retriever);
    const saved = join(scratch, "published");
    await saveRetriever(retriever, saved);
    const expected = await retriever.encodeQueries(CORPUS);
    retriever.dispose(); // see above: one model with LoRA at a time
    // Lay the files out as a base checkpoint directory and a separate adapter directory.
    const base = join(scratch, "base-model");
    const adapter = join(scratch, "revela-adapter");
    await mkdir(base, { recursive: true });
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
      await cp(join(saved, f), join(base, f));
    await cp(join(saved, "adapter"), adapter, { recursive: true });
    const loaded = await loadRetriever({ model: base, adapter });
    expect(loaded.options).toMatchObject({
      pooling: "eos",
      normalize: true,
      queryPrefix: "query: ",
      passagePrefix: "passage: ",
    });
    expect(loaded.tokenizerDir).toBe(base);
    expect((await loaded.encodeQueries(CORPUS)).data).toEqual(expected.data);
    loaded.dispose();
    await expect(loadRetriever({ model: base, adapter: join(scratch, "nowhere") })).rejects.toThrow(
      /nowhere\/adapter_config\.json not found \(the LoRA adapter needs it\)/,
    );
    await expect(loadRetriever({ model: adapter })).rejects.toThrow(
      /revela-adapter\/config\.json not found \(the backbone needs it\)/,
    );
  });

  it("refuses directories with missing files or another format version, naming the file", async () => {
    const retriever = await tinyRetriever();
    const dir = join(scratch, "broken");
    await saveRetriever(retriever, dir);
    const configFile = join(dir, RETRIEVER_CONFIG_FILE);
    const config = JSON.parse(await readFile(configFile, "utf8"));

    await writeFile(configFile, JSON.stringify({ ...config, version: 2 }));
    await expect(loadRetriever(dir)).rejects.toThrow(
      /retriever\.json: format version 2; this @revela\/retriever reads version 1 \(.*newer release/,
    );
    await writeFile(configFile, JSON.stringify({ ...config, format: "sentence-transformers" }));
    await expect(loadRetriever(dir)).rejects.toThrow(/field "format" must be "revela-retriever"/);
    await writeFile(configFile, JSON.stringify({ ...config, encoder: { ...config.encoder, pooling: "cls" } }));
    await expect(loadRetriever(dir)).rejects.toThrow(
      /field "encoder": pooling must be one of eos, mean, first, got "cls"/,
    );
    await writeFile(configFile, JSON.stringify({ ...config, adapter: "../elsewhere" }));
    await expect(loadRetriever(dir)).rejects.toThrow(/field "adapter" must be null or a subdirectory name/);
    await writeFile(configFile, JSON.stringify({ ...config, adapter: "adapter" }));
    await expect(loadRetriever(dir)).rejects.toThrow(/broken\/adapter\/adapter_config\.json not found/);
    await writeFile(configFile, JSON.stringify({ ...config, dimensions: 64 }));
    await expect(loadRetriever(dir)).rejects.toThrow(/says dimensions 64, but .*config\.json has hidden_size 32/);
    await writeFile(configFile, JSON.stringify(config));
    await rm(join(dir, "vocab_compaction.json"));
    await expect(loadRetriever(dir)).rejects.toThrow(/broken\/vocab_compaction\.json not found/);
    await rm(configFile);
    await expect(loadRetriever(dir)).rejects.toThrow(
      /broken\/retriever\.json not found: .* is not a retriever directory/,
    );
  });

  it("refuses to save a retriever that does not know its tokenizer files", async () => {
    const tokenizer = await llama3();
    const tiny = await tinyRetriever();
    const orphan = new Retriever({ backbone: tiny.backbone, tokenizer: tiny.tokenizer, tokenizerDir: null });
    await expect(saveRetriever(orphan, join(scratch, "orphan"))).rejects.toThrow(
      /does not know where its tokenizer\.json is/,
    );
    expect(() => new Retriever({ backbone: tiny.backbone, tokenizer })).toThrow(
      /tokenizer has 128256 ids but the backbone's embedding table has \d+ rows/,
    );
  });
});
