import type { Batch } from "../data/types.js";

/**
 * For each chunk, whether another chunk of its batch comes from the same document: the rows that
 * same-document W fills, that readingGain compares, and without which it has nothing to measure.
 */
export function sameDocumentSiblings(docIds: readonly string[]): boolean[] {
  if (!Array.isArray(docIds)) throw new Error("sameDocumentSiblings: docIds must be an array of document ids");
  const count = new Map<string, number>();
  for (const d of docIds) count.set(d, (count.get(d) ?? 0) + 1);
  return docIds.map((d) => (count.get(d) as number) > 1);
}

/** Whether any of the batches holds two chunks of one document (readingGain needs one). */
export function holdsSameDocumentSiblings(batches: readonly Batch[]): boolean {
  if (!Array.isArray(batches)) throw new Error("holdsSameDocumentSiblings: batches must be an array of batches");
  return batches.some((b: Batch, n) => {
    const chunks: Batch["chunks"] | undefined = b?.chunks;
    if (!Array.isArray(chunks)) throw new Error(`holdsSameDocumentSiblings: batches[${n}] has no chunks array`);
    return sameDocumentSiblings(chunks.map((c) => c.docId)).includes(true);
  });
}
