import { bm25Terms } from "./bm25Terms.js";
import type { Chunk } from "./types.js";

/**
 * Each chunk's lexical nearest neighbour inside a batch: BM25 (k1 1.2, b 0.75, corpus IDF and
 * average length) of chunk i's terms as the query against every other chunk of the batch. A
 * diagnostic for W — how much of the retriever's mass lands where plain term overlap points — so it
 * scores only the batch's B² pairs, not the corpus.
 */
export class InBatchBm25 {
  private readonly documentFrequency = new Map<string, number>();
  private readonly chunks: number;
  private readonly averageLength: number;

  constructor(corpus: readonly Chunk[]) {
    if (!Array.isArray(corpus) || corpus.length === 0)
      throw new Error("InBatchBm25: corpus must be a non-empty chunk array");
    let total = 0;
    for (const [i, c] of corpus.entries()) {
      if (typeof c?.text !== "string") throw new Error(`InBatchBm25: corpus[${i}].text must be a string`);
      const terms = bm25Terms(c.text);
      total += terms.length;
      for (const t of new Set(terms)) this.documentFrequency.set(t, (this.documentFrequency.get(t) ?? 0) + 1);
    }
    this.chunks = corpus.length;
    this.averageLength = Math.max(1, total / corpus.length);
  }

  /** For each chunk of the batch, the index (in the batch) of its best BM25 match among the others; −1 if none shares a term. */
  nearest(batch: readonly Chunk[]): number[] {
    const bags = batch.map((c) => {
      const counts = new Map<string, number>();
      const terms = bm25Terms(c.text);
      for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
      return { counts, length: terms.length };
    });
    return bags.map((query, i) => {
      let best = -1;
      let bestScore = 0;
      bags.forEach((doc, j) => {
        if (j === i) return;
        let score = 0;
        for (const term of query.counts.keys()) {
          const tf = doc.counts.get(term);
          if (!tf) continue;
          const df = this.documentFrequency.get(term) ?? 0;
          const idf = Math.log(1 + (this.chunks - df + 0.5) / (df + 0.5));
          score += (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * doc.length) / this.averageLength));
        }
        if (score > bestScore) {
          bestScore = score;
          best = j;
        }
      });
      return best;
    });
  }
}
