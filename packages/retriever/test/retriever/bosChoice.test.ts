import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@revela/kernels";
import { Tokenizer, VocabularyCompaction } from "@revela/language-model";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadRetriever, Retriever, saveRetriever } from "../../src/index.js";
import { CORPUS, LLAMA3_DIR, tinyConfig } from "../support/tinyRetriever.js";

let scratch = "";
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  scratch = await mkdtemp(join(tmpdir(), "revela-bos-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

it("a tokenizer with BOS forced on (the shipped Llama-3 file adds none) saves and loads with BOS on", async () => {
  const base = await Tokenizer.fromDir(LLAMA3_DIR, { addBosToken: true });
  expect((await Tokenizer.fromDir(LLAMA3_DIR)).addBosToken).toBe(false); // the file's own default
  const tokenizer = base.withCompaction(
    VocabularyCompaction.fromTexts(base, CORPUS, { prefixes: ["query: ", "passage: ", ""] }),
  );
  const retriever = Retriever.create({
    config: tinyConfig(tokenizer.vocabSize),
    tokenizer,
    options: {},
    tokenizerDir: LLAMA3_DIR,
  });
  const dir = join(scratch, "r");
  await saveRetriever(retriever, dir);
  const loaded = await loadRetriever(dir);
  const text = CORPUS[1] as string;
  expect(loaded.encoder.tokenize(text, "passage")).toEqual(retriever.encoder.tokenize(text, "passage"));
  expect(loaded.encoder.tokenize(text, "passage")[0]).toBe(tokenizer.bosTokenId);
});
