import path from "node:path";
import type { BeirDataset } from "@revela/eval";
import { documentText } from "./documentText.js";

/**
 * Throws when no document of the corpus has any text (title or body): every retriever would score
 * every document zero, and the table would report that as a result. Returns a warning when only
 * some are empty (they can only be ranked by chance), else null.
 */
export function requireCorpusText(dataset: BeirDataset, dir: string): string | null {
  const file = path.join(dir, "corpus.jsonl");
  let empty = 0;
  let firstEmpty: string | null = null;
  for (const doc of dataset.corpus.values()) {
    if (documentText(doc).trim() !== "") continue;
    empty++;
    firstEmpty ??= doc.id;
  }
  const total = dataset.corpus.size;
  if (total === 0) throw new Error(`${file}: holds no documents: there is nothing to retrieve`);
  if (empty === total) {
    throw new Error(`${file}: all ${total} documents have an empty title and text: there is nothing to retrieve`);
  }
  if (empty === 0) return null;
  return `${file}: ${empty} of ${total} documents have an empty title and text (e.g. ${JSON.stringify(firstEmpty)})`;
}
