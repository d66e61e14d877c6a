/** One retrieved document and its score; a higher score ranks higher. */
export interface Hit {
  docId: string;
  score: number;
}

/**
 * A run: for each query id, the documents retrieved for it. The order of the array does not matter
 * to evaluation — ranks always come from the scores, as in trec_eval — but every function of this
 * package that produces a run returns each list already in trec_eval order.
 */
export type Run = Map<string, readonly Hit[]>;

/**
 * Relevance judgements: query id → document id → integer grade. A grade ≥ the relevance level
 * (1 by default) is relevant; 0 is judged non-relevant; a negative grade counts as non-relevant.
 */
export type Qrels = Map<string, Map<string, number>>;

/**
 * Throws when a query's list names a document twice or has a score that is not a finite number:
 * trec_eval refuses duplicates, and NaN would make the ranking depend on sort internals.
 */
export function checkHits(queryId: string, hits: readonly Hit[], where: string): void {
  const seen = new Set<string>();
  for (const hit of hits) {
    if (typeof hit.docId !== "string") {
      throw new Error(`${where}: query "${queryId}" has a hit whose docId is not a string (${typeof hit.docId})`);
    }
    if (!Number.isFinite(hit.score)) {
      throw new Error(
        `${where}: query "${queryId}", document "${hit.docId}" has score ${hit.score}; scores must be finite numbers`,
      );
    }
    if (seen.has(hit.docId)) {
      throw new Error(`${where}: query "${queryId}" retrieves document "${hit.docId}" more than once`);
    }
    seen.add(hit.docId);
  }
}
