import { type JsonlCorpusOptions, readJsonlCorpus } from "./readJsonlCorpus.js";
import type { Document } from "./types.js";

export type BeirCorpusOptions = Omit<JsonlCorpusOptions, "idField" | "textField" | "titleField">;

/**
 * Streams a BEIR `corpus.jsonl` (fields `_id`, `title`, `text`). The document's `text` — what the
 * chunker cuts and training sees — is `title + ". " + text` when the title is non-empty, else the
 * text alone: the period makes the title its own sentence, so the chunker can cut after it rather
 * than run it into the first sentence. `title` is kept on the document too.
 * Bad lines are handled as in `readJsonlCorpus`.
 */
export async function* readBeirCorpus(file: string, options: BeirCorpusOptions = {}): AsyncGenerator<Document> {
  for await (const doc of readJsonlCorpus(file, {
    ...options,
    idField: "_id",
    textField: "text",
    titleField: "title",
  })) {
    yield doc.title === undefined ? doc : { id: doc.id, title: doc.title, text: `${doc.title}. ${doc.text}` };
  }
}
