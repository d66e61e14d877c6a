import { checkHits, type Hit, type Run } from "./run.js";
import { compareTrecOrder, inTrecOrder } from "./trecOrder.js";

export interface FusionOptions {
  /** One weight per run; default all 1. */
  weights?: readonly number[];
  /** Documents kept per query in the fused run; default 1000. */
  k?: number;
}

/**
 * Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): a document scores
 * Σ_runs weight / (rrfK + rank), rank 1-based in trec_eval order; a run that did not retrieve it adds
 * nothing. `rrfK` defaults to 60, the paper's value. Only ranks matter, so runs on incomparable
 * scales (BM25 and cosine) fuse without tuning.
 */
export function reciprocalRankFusion(runs: readonly Run[], options: FusionOptions & { rrfK?: number } = {}): Run {
  const rrfK = options.rrfK ?? 60;
  if (!Number.isFinite(rrfK) || rrfK < 0)
    throw new Error(`reciprocalRankFusion: rrfK must be a finite number ≥ 0, got ${rrfK}`);
  return fuse(runs, options, "reciprocalRankFusion", (ranked, weight, into) => {
    ranked.forEach((hit, i) => {
      into.set(hit.docId, (into.get(hit.docId) ?? 0) + weight / (rrfK + i + 1));
    });
  });
}

/**
 * Normalised linear fusion: per query, each run's scores are min–max scaled to [0, 1] (a run whose
 * scores are all equal scales them to 1), then summed with the weights; a run that did not retrieve a
 * document adds 0, as if at its own minimum. With weights [α, 1 − α] this is the usual
 * α·BM25 + (1 − α)·dense hybrid.
 */
export function linearFusion(runs: readonly Run[], options: FusionOptions = {}): Run {
  return fuse(runs, options, "linearFusion", (ranked, weight, into) => {
    if (ranked.length === 0) return;
    const max = (ranked[0] as Hit).score;
    const min = (ranked[ranked.length - 1] as Hit).score;
    const span = max - min;
    for (const hit of ranked) {
      const scaled = span > 0 ? (hit.score - min) / span : 1;
      into.set(hit.docId, (into.get(hit.docId) ?? 0) + weight * scaled);
    }
  });
}

function fuse(
  runs: readonly Run[],
  options: FusionOptions,
  name: string,
  accumulate: (ranked: readonly Hit[], weight: number, into: Map<string, number>) => void,
): Run {
  if (runs.length === 0) throw new Error(`${name}: needs at least one run`);
  const weights = options.weights ?? runs.map(() => 1);
  if (weights.length !== runs.length) {
    throw new Error(`${name}: ${weights.length} weights for ${runs.length} runs; give one weight per run`);
  }
  weights.forEach((w, i) => {
    if (!Number.isFinite(w) || w < 0) throw new Error(`${name}: weight ${i} is ${w}; weights must be finite and ≥ 0`);
  });
  const k = options.k ?? 1000;
  if (!Number.isInteger(k) || k < 1) throw new Error(`${name}: k must be a positive integer, got ${k}`);

  // Every query of any run, in first-seen order.
  const queryIds = new Set<string>();
  for (const run of runs) for (const queryId of run.keys()) queryIds.add(queryId);
  const fused: Run = new Map();
  for (const queryId of queryIds) {
    const scores = new Map<string, number>();
    runs.forEach((run, r) => {
      const hits = run.get(queryId);
      if (hits === undefined) return;
      checkHits(queryId, hits, `${name} (run ${r})`);
      accumulate(inTrecOrder(hits), weights[r] as number, scores);
    });
    const hits: Hit[] = [];
    for (const [docId, score] of scores) hits.push({ docId, score });
    hits.sort(compareTrecOrder);
    fused.set(queryId, hits.length > k ? hits.slice(0, k) : hits);
  }
  return fused;
}
