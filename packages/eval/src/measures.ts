/**
 * The per-query measures, computed as trec_eval 10.0 computes them (m_ndcg_cut.c, m_map_cut.c,
 * m_recall.c, m_P.c) and as BEIR computes MRR@k (custom_metrics.py). Every function takes the
 * relevance grades of the retrieved documents in rank order (0 for a document without judgement)
 * and a cutoff k; a cutoff beyond the end of the ranking counts the missing places as non-relevant.
 * Summation order and the use of division follow trec_eval, so values agree to the last bit or two.
 */

let log2Table = new Float64Array(0);

/** log2(rank + 1) for 0-based position `i`, memoised because every nDCG needs the same values. */
function discount(i: number): number {
  if (i >= log2Table.length) {
    const grown = new Float64Array(Math.max(1024, 2 * (i + 1)));
    for (let j = 0; j < grown.length; j++) grown[j] = Math.log2(j + 2);
    log2Table = grown;
  }
  return log2Table[i] as number;
}

/**
 * nDCG@k with gain = grade and discount log2(rank + 1). The ideal ranking is every positively graded
 * judged document of the query, highest grade first — retrieved or not. A query with no positive
 * grades scores 0 (trec_eval leaves DCG, which is then 0, undivided). The relevance level does not
 * apply: trec_eval's nDCG uses the grades as gains whatever the level.
 */
export function ndcgAt(rels: ArrayLike<number>, idealGains: ArrayLike<number>, k: number): number {
  let dcg = 0;
  const n = Math.min(k, rels.length);
  for (let i = 0; i < n; i++) {
    const gain = rels[i] as number;
    if (gain > 0) dcg += gain / discount(i);
  }
  let ideal = 0;
  const m = Math.min(k, idealGains.length);
  for (let i = 0; i < m; i++) ideal += (idealGains[i] as number) / discount(i);
  return ideal > 0 ? dcg / ideal : dcg;
}

/**
 * MAP@k (trec_eval map_cut): the sum of precision at each relevant document within the top k,
 * divided by the number of relevant documents of the query (not by min(k, relevant)). 0 when the
 * query has no relevant document.
 */
export function averagePrecisionAt(rels: ArrayLike<number>, numRelevant: number, k: number, level = 1): number {
  if (numRelevant === 0) return 0;
  let found = 0;
  let sum = 0;
  const n = Math.min(k, rels.length);
  for (let i = 0; i < n; i++) {
    if ((rels[i] as number) >= level) {
      found++;
      sum += found / (i + 1);
    }
  }
  return sum / numRelevant;
}

/** Recall@k: relevant documents in the top k over all relevant documents; 0 when there are none. */
export function recallAt(rels: ArrayLike<number>, numRelevant: number, k: number, level = 1): number {
  if (numRelevant === 0) return 0;
  return countRelevant(rels, k, level) / numRelevant;
}

/** P@k: relevant documents in the top k over k — always k, even when fewer were retrieved. */
export function precisionAt(rels: ArrayLike<number>, k: number, level = 1): number {
  return countRelevant(rels, k, level) / k;
}

/** MRR@k (BEIR's custom metric): 1 / rank of the first relevant document within the top k, else 0. */
export function reciprocalRankAt(rels: ArrayLike<number>, k: number, level = 1): number {
  const n = Math.min(k, rels.length);
  for (let i = 0; i < n; i++) if ((rels[i] as number) >= level) return 1 / (i + 1);
  return 0;
}

function countRelevant(rels: ArrayLike<number>, k: number, level: number): number {
  let count = 0;
  const n = Math.min(k, rels.length);
  for (let i = 0; i < n; i++) if ((rels[i] as number) >= level) count++;
  return count;
}
