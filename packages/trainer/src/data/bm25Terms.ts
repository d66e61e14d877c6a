import { englishAnalyzer } from "@revela/text-data";

/**
 * Text → BM25 terms for batching: the evaluation's analyzer (lowercase, Lucene's stopwords, split on
 * anything not a letter or digit) without stemming — batching only needs chunks that share words,
 * and it indexes every chunk of the corpus once per epoch.
 */
export const bm25Terms: (text: string) => string[] = englishAnalyzer({ stem: null });
