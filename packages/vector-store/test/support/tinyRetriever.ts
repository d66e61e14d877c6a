import type { Retriever } from "@revela/retriever";
import { tinyRetriever as sharedTinyRetriever } from "@revela/test-fixtures";

/**
 * A random from-scratch retriever (2 layers, d 32) whose vocabulary is the Llama-3 ids of `texts`:
 * enough to check that search through the database ranks exactly as search in process.
 */
export function tinyRetriever(texts: readonly string[], seed = 0, maxLength = 64): Promise<Retriever> {
  return sharedTinyRetriever(texts, { seed, maxLength, tokenizerDir: null });
}
