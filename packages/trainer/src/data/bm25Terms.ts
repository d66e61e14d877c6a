/**
 * English stopwords dropped before BM25 scoring: the short Lucene/Pyserini list. Without it, a
 * 120-word query touches the posting list of "the" and friends, i.e. nearly every chunk.
 */
const STOPWORDS: ReadonlySet<string> = new Set(
  (
    "a an and are as at be but by for if in into is it of on or such that the their then there these " +
    "they this to was will with"
  ).split(" "),
);

/** Text → BM25 terms: lowercase, split on anything not a letter or digit (Unicode-aware), drop stopwords. */
export function bm25Terms(text: string): string[] {
  const terms: string[] = [];
  for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (raw !== "" && !STOPWORDS.has(raw)) terms.push(raw);
  }
  return terms;
}
