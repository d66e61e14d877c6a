import type { Chunk, Document } from "./types.js";

export interface ChunkOptions {
  /** Most words in a chunk (words are runs of non-whitespace). Default 120, as in the paper. */
  maxWords?: number;
}

interface Word {
  start: number;
  end: number;
}

// ICU's sentence rules (Intl.Segmenter) know abbreviations, quotes and non-Latin punctuation far
// better than a regular expression would; one instance is reused because construction is costly.
const sentenceSegmenter = new Intl.Segmenter("en", { granularity: "sentence" });

function requireMaxWords(op: string, maxWords: unknown): number {
  if (typeof maxWords !== "number" || !Number.isInteger(maxWords) || maxWords < 1) {
    throw new Error(`${op}: options.maxWords must be a positive integer, got ${String(maxWords)}`);
  }
  return maxWords;
}

function requireDocument(op: string, doc: unknown, where: string): Document {
  if (doc === null || typeof doc !== "object") throw new Error(`${op}: ${where} must be a document object`);
  const d = doc as Partial<Document>;
  if (typeof d.id !== "string" || d.id === "") {
    throw new Error(`${op}: ${where}.id must be a non-empty string, got ${JSON.stringify(d.id)}`);
  }
  if (typeof d.text !== "string") {
    throw new Error(`${op}: ${where}.text must be a string, got ${typeof d.text} (document ${JSON.stringify(d.id)})`);
  }
  return d as Document;
}

/**
 * The words of `text`, grouped into sentences. A sentence boundary from the segmenter counts only
 * where it falls between two words (in whitespace), never inside one, so the words of all sentences
 * are exactly the words of the text.
 */
function sentencesOf(text: string): Word[][] {
  const words: Word[] = [];
  for (const m of text.matchAll(/\S+/g)) words.push({ start: m.index, end: m.index + m[0].length });
  if (words.length === 0) return [];
  const sentences: Word[][] = [];
  let current: Word[] = [];
  let w = 0;
  for (const segment of sentenceSegmenter.segment(text)) {
    const boundary = segment.index + segment.segment.length;
    while (w < words.length && (words[w] as Word).end <= boundary) current.push(words[w++] as Word);
    // A boundary inside a word (e.g. "end.Next") is ignored: that word stays in the next sentence.
    if (current.length > 0 && (w === words.length || (words[w] as Word).start >= boundary)) {
      sentences.push(current);
      current = [];
    }
  }
  if (current.length > 0) sentences.push(current);
  return sentences;
}

/**
 * Cuts a document into passages of at most `maxWords` words. Whole sentences are packed greedily;
 * a sentence longer than `maxWords` is cut at word boundaries, and its last piece may share a chunk
 * with the sentences after it. Each chunk's text is the original span from its first word to its
 * last (line breaks inside are kept, which matters for code), so the words of a document's chunks,
 * in order, are exactly its words. A document with no words gives no chunks.
 */
export function chunkDocument(doc: Document, options: ChunkOptions = {}): Chunk[] {
  const op = "chunkDocument";
  requireDocument(op, doc, "doc");
  const maxWords = requireMaxWords(op, options.maxWords ?? 120);
  const spans: Word[][] = [];
  let current: Word[] = [];
  const flush = () => {
    if (current.length > 0) spans.push(current);
    current = [];
  };
  for (const sentence of sentencesOf(doc.text)) {
    if (current.length + sentence.length <= maxWords) {
      current.push(...sentence);
      continue;
    }
    flush();
    let rest = sentence;
    while (rest.length > maxWords) {
      spans.push(rest.slice(0, maxWords));
      rest = rest.slice(maxWords);
    }
    current = rest;
  }
  flush();
  return spans.map((words, index) => ({
    id: `${doc.id}#${index}`,
    docId: doc.id,
    index,
    text: doc.text.slice((words[0] as Word).start, (words[words.length - 1] as Word).end),
  }));
}

/**
 * Chunks every document of a corpus (an array, a generator, or a reader such as `readBeirCorpus`)
 * into one array, in corpus order — the batchers need all chunks at once. Repeated document ids are
 * an error, since chunk ids must be unique.
 */
export async function chunkCorpus(
  docs: Iterable<Document> | AsyncIterable<Document>,
  options: ChunkOptions = {},
): Promise<Chunk[]> {
  const op = "chunkCorpus";
  if (docs === null || typeof docs !== "object" || !(Symbol.iterator in docs || Symbol.asyncIterator in docs)) {
    throw new Error(`${op}: docs must be an iterable or async iterable of documents`);
  }
  requireMaxWords(op, options.maxWords ?? 120);
  const chunks: Chunk[] = [];
  const seen = new Set<string>();
  let n = 0;
  for await (const doc of docs) {
    requireDocument(op, doc, `document ${n}`);
    if (seen.has(doc.id)) throw new Error(`${op}: document ${n} repeats id ${JSON.stringify(doc.id)}`);
    seen.add(doc.id);
    for (const chunk of chunkDocument(doc, options)) chunks.push(chunk);
    n++;
  }
  return chunks;
}
