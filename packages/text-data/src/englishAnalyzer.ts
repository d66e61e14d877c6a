import porter2Stem from "wink-porter2-stemmer";

/**
 * English stopwords: the short list of articles, conjunctions, prepositions and auxiliaries that
 * Lucene's English analyzer (and so Pyserini's BM25) drops — a longer list removes words that
 * scientific claims depend on ("not", "no" are kept by neither).
 */
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set(
  (
    "a an and are as at be but by for if in into is it of on or such that the their then there these " +
    "they this to was will with"
  ).split(" "),
);

export interface AnalyzerOptions {
  /** Words to drop after lowercasing; default `ENGLISH_STOPWORDS`. */
  stopwords?: ReadonlySet<string>;
  /** Applied to each kept token; default the Porter2 (Snowball English) stemmer, `null` for none. */
  stem?: ((token: string) => string) | null;
}

/**
 * A text → tokens function for BM25: lowercase, drop possessive 's, split on anything that is not a
 * letter or digit (Unicode-aware), drop stopwords, stem. It approximates Lucene's EnglishAnalyzer
 * (Pyserini's default), with Porter2 where Lucene uses the original Porter stemmer.
 */
export function englishAnalyzer(options: AnalyzerOptions = {}): (text: string) => string[] {
  const stopwords = options.stopwords ?? ENGLISH_STOPWORDS;
  const stem = options.stem === undefined ? porter2Stem : options.stem;
  return (text: string) => {
    const tokens: string[] = [];
    for (const raw of text
      .toLowerCase()
      .replace(/['’]s\b/g, "")
      .split(/[^\p{L}\p{N}]+/u)) {
      if (raw === "" || stopwords.has(raw)) continue;
      tokens.push(stem ? stem(raw) : raw);
    }
    return tokens;
  };
}
