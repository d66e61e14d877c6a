import type { BeirDocument } from "./beirDataset.js";

/** Documents as an array, from an array, any iterable, or a corpus map as `loadBeirDataset` returns it. */
export function documentList(corpus: Iterable<BeirDocument> | Map<string, BeirDocument>): readonly BeirDocument[] {
  if (Array.isArray(corpus)) return corpus;
  if (corpus instanceof Map) return [...corpus.values()];
  return [...corpus];
}
