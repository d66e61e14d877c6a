import type { Chunk, Document } from "./types.js";

export interface ChunkOptions {
  /** Most words in a chunk (words are runs of non-whitespace). Default 120, as in the paper. */
  maxWords?: number;
}

// ICU's sentence rules (Intl.Segmenter) know abbreviations, quotes and non-Latin punctuation far
// better than a regular expression would; one instance is reused because construction is costly.
const sentenceSegmenter = new Intl.Segmenter("en", { granularity: "sentence" });

/**
 * V8's segmenter slows down more than linearly on long strings (0.125 MB: 0.07 s, 0.25 MB: 0.95 s,
 * and a 20 MB document never finished), so the text goes through it in windows of this many
 * characters. A boundary within `WINDOW_MARGIN` of a window's end may be an artefact of the cut
 * and is found again by the next window, which starts at the last boundary before it; a sentence
 * longer than a window is continued from a word start without a boundary. ICU's rules look only a
 * few characters around a boundary, so the boundaries are those of the whole text.
 */
export const SEGMENTER_WINDOW = 16_384;
const WINDOW_MARGIN = 1_024;

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

/** Offsets where a sentence starts in `text` (0 excluded), ascending, found window by window (see above). */
export function* sentenceStarts(
  text: string,
  window = SEGMENTER_WINDOW,
  margin = Math.min(WINDOW_MARGIN, window >> 2),
): Generator<number> {
  let from = 0;
  while (from < text.length) {
    const to = Math.min(text.length, from + window);
    const last = to === text.length;
    let trusted = from;
    for (const segment of sentenceSegmenter.segment(text.slice(from, to))) {
      const start = from + segment.index;
      if (start === from) continue;
      if (!last && start > to - margin) break;
      trusted = start;
      yield start;
    }
    if (last) return;
    if (trusted > from) {
      from = trusted;
      continue;
    }
    // No boundary in this window: the sentence goes on. Continue from the start of a word near the
    // window's end (the segmenter then sees a sentence beginning there, which it does not report).
    let cut = to - margin;
    while (cut > from + 1 && !isSpace(text.charCodeAt(cut - 1))) cut--;
    from = cut > from + 1 ? cut : to - margin;
  }
}

const isSpace = (code: number) => /\s/.test(String.fromCharCode(code));

/**
 * Cuts a document into passages of at most `maxWords` words. Whole sentences are packed greedily;
 * a sentence longer than `maxWords` is cut at word boundaries, and its last piece may share a chunk
 * with the sentences after it. A sentence boundary counts only where it falls between two words (in
 * whitespace), never inside one. Each chunk's text is the original span from its first word to its
 * last (line breaks inside are kept, which matters for code), so the words of a document's chunks,
 * in order, are exactly its words. A document with no words gives no chunks. Time and memory are
 * linear in the text's length.
 */
export function chunkDocument(doc: Document, options: ChunkOptions = {}): Chunk[] {
  const op = "chunkDocument";
  requireDocument(op, doc, "doc");
  const maxWords = requireMaxWords(op, options.maxWords ?? 120);
  const text = doc.text;
  const chunks: Chunk[] = [];
  const emit = (first: number, last: number) => {
    const index = chunks.length;
    chunks.push({ id: `${doc.id}#${index}`, docId: doc.id, index, text: text.slice(first, last) });
  };
  // The chunk being packed: the start of its first word, the end of its last, its word count.
  let chunkStart = 0;
  let chunkEnd = 0;
  let chunkWords = 0;
  // The sentence being read, as word offsets [start0, end0, start1, end1, …].
  let sentence: number[] = [];
  const endSentence = () => {
    const n = sentence.length / 2;
    if (n === 0) return;
    if (chunkWords + n <= maxWords) {
      if (chunkWords === 0) chunkStart = sentence[0] as number;
      chunkEnd = sentence[2 * n - 1] as number;
      chunkWords += n;
    } else {
      if (chunkWords > 0) emit(chunkStart, chunkEnd);
      let w = 0;
      for (; n - w > maxWords; w += maxWords)
        emit(sentence[2 * w] as number, sentence[2 * (w + maxWords) - 1] as number);
      chunkStart = sentence[2 * w] as number;
      chunkEnd = sentence[2 * n - 1] as number;
      chunkWords = n - w;
    }
    sentence = [];
  };
  const starts = sentenceStarts(text);
  let nextStart = starts.next();
  let previousEnd = 0;
  const word = /\S+/g;
  for (let m = word.exec(text); m !== null; m = word.exec(text)) {
    const start = m.index;
    // Boundaries up to this word: one in the gap since the previous word ends the sentence; one
    // inside the previous word is ignored (that word stays where it is).
    let boundary = false;
    while (!nextStart.done && nextStart.value <= start) {
      if (nextStart.value >= previousEnd) boundary = true;
      nextStart = starts.next();
    }
    if (boundary) endSentence();
    previousEnd = start + m[0].length;
    sentence.push(start, previousEnd);
  }
  endSentence();
  if (chunkWords > 0) emit(chunkStart, chunkEnd);
  return chunks;
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
