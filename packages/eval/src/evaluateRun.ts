import { averagePrecisionAt, ndcgAt, precisionAt, recallAt, reciprocalRankAt } from "./measures.js";
import { checkHits, type Hit, type Qrels, type Run } from "./run.js";
import { inTrecOrder } from "./trecOrder.js";

export const MEASURES = ["ndcg", "map", "recall", "precision", "mrr"] as const;
export type Measure = (typeof MEASURES)[number];

/** BEIR's default cutoffs. */
export const DEFAULT_CUTOFFS: readonly number[] = [1, 3, 5, 10, 100, 1000];

/** Column names as BEIR prints them: `NDCG@10`, `MAP@10`, `Recall@10`, `P@10`, `MRR@10`. */
const LABELS: Record<Measure, string> = { ndcg: "NDCG", map: "MAP", recall: "Recall", precision: "P", mrr: "MRR" };

export function measureName(measure: Measure, k: number): string {
  return `${LABELS[measure]}@${k}`;
}

export interface EvaluateOptions {
  /** Cutoffs, positive integers; default BEIR's 1, 3, 5, 10, 100, 1000. */
  k?: readonly number[];
  /** Which measures; default all five, in the order of `MEASURES`. */
  measures?: readonly Measure[];
  /**
   * Drop a retrieved document whose id equals the query id before ranking (BEIR's
   * `ignore_identical_ids`, needed for ArguAna and Quora where a query is also a document).
   * Default false.
   */
  ignoreIdenticalIds?: boolean;
  /** Lowest grade that counts as relevant for MAP, Recall, P and MRR (pytrec_eval's relevance_level). Default 1. */
  relevanceLevel?: number;
  /**
   * What to do with a query that has judgements but no entry in the run. `"skip"` (default) leaves it
   * out of the mean, as pytrec_eval and so BEIR do; `"zero"` scores it 0 on every measure, as
   * `trec_eval -c` does.
   */
  missingQueries?: "skip" | "zero";
}

export interface EvaluationResult {
  /** Measure names in column order, e.g. `["NDCG@10", "Recall@100"]`. */
  measures: string[];
  /** Mean over the evaluated queries of each measure (0 when none was evaluated). */
  mean: Record<string, number>;
  /** Query id → measure name → value, for every evaluated query. */
  perQuery: Record<string, Record<string, number>>;
  /** Queries that entered the mean. */
  numQueries: number;
  /** Queries of the run without judgements: never evaluated (pytrec_eval ignores them too). */
  runQueriesWithoutQrels: number;
  /** Judged queries absent from the run: skipped or scored 0, per `missingQueries`. */
  qrelsQueriesWithoutRun: number;
}

/**
 * Evaluates a run against relevance judgements exactly as BEIR does with pytrec_eval: ranks come
 * from scores with ties broken by document id as trec_eval breaks them, and each measure follows
 * trec_eval 10.0. The mean is over the judged queries of the run.
 */
export function evaluateRun(run: Run, qrels: Qrels, options: EvaluateOptions = {}): EvaluationResult {
  const cutoffs = checkCutoffs(options.k ?? DEFAULT_CUTOFFS);
  const measures = checkMeasures(options.measures ?? MEASURES);
  const level = options.relevanceLevel ?? 1;
  if (!Number.isInteger(level) || level < 1) {
    throw new Error(`evaluateRun: relevanceLevel must be an integer ≥ 1 (as in pytrec_eval), got ${level}`);
  }
  const missing = options.missingQueries ?? "skip";
  if (missing !== "skip" && missing !== "zero") {
    throw new Error(`evaluateRun: missingQueries must be "skip" or "zero", got ${JSON.stringify(missing)}`);
  }
  const names: string[] = [];
  for (const m of measures) for (const k of cutoffs) names.push(measureName(m, k));

  const perQuery: Record<string, Record<string, number>> = Object.create(null);
  const sums = new Float64Array(names.length);
  let numQueries = 0;
  let runQueriesWithoutQrels = 0;
  const score = (queryId: string, judgements: Map<string, number>, hits: readonly Hit[]) => {
    const values = scoreQuery(queryId, judgements, hits, measures, cutoffs, level, options.ignoreIdenticalIds ?? false);
    const row: Record<string, number> = Object.create(null);
    for (let i = 0; i < names.length; i++) {
      row[names[i] as string] = values[i] as number;
      sums[i] = (sums[i] as number) + (values[i] as number);
    }
    perQuery[queryId] = row;
    numQueries++;
  };

  for (const [queryId, hits] of run) {
    const judgements = qrels.get(queryId);
    if (judgements === undefined) {
      runQueriesWithoutQrels++;
      continue;
    }
    score(queryId, judgements, hits);
  }
  let qrelsQueriesWithoutRun = 0;
  for (const [queryId, judgements] of qrels) {
    if (run.has(queryId)) continue;
    qrelsQueriesWithoutRun++;
    if (missing === "zero") score(queryId, judgements, []);
  }

  const mean: Record<string, number> = {};
  for (let i = 0; i < names.length; i++) mean[names[i] as string] = numQueries ? (sums[i] as number) / numQueries : 0;
  return { measures: names, mean, perQuery, numQueries, runQueriesWithoutQrels, qrelsQueriesWithoutRun };
}

function scoreQuery(
  queryId: string,
  judgements: Map<string, number>,
  hits: readonly Hit[],
  measures: readonly Measure[],
  cutoffs: readonly number[],
  level: number,
  ignoreIdenticalIds: boolean,
): number[] {
  checkHits(queryId, hits, "evaluateRun");
  const kept = ignoreIdenticalIds ? hits.filter((h) => h.docId !== queryId) : hits;
  const ranked = inTrecOrder(kept);
  // Only the top max(k) places matter to any measure.
  const depth = Math.min(ranked.length, cutoffs[cutoffs.length - 1] as number);
  const rels = new Float64Array(depth);
  for (let i = 0; i < depth; i++) rels[i] = judgements.get((ranked[i] as Hit).docId) ?? 0;

  const idealGains: number[] = [];
  let numRelevant = 0;
  for (const [docId, grade] of judgements) {
    if (!Number.isInteger(grade)) {
      throw new Error(
        `evaluateRun: qrels grade of query "${queryId}", document "${docId}" is ${grade}; grades must be integers (as trec_eval reads them)`,
      );
    }
    if (grade > 0) idealGains.push(grade);
    if (grade >= level) numRelevant++;
  }
  idealGains.sort((a, b) => b - a);

  const values: number[] = [];
  for (const m of measures) {
    for (const k of cutoffs) {
      switch (m) {
        case "ndcg":
          values.push(ndcgAt(rels, idealGains, k));
          break;
        case "map":
          values.push(averagePrecisionAt(rels, numRelevant, k, level));
          break;
        case "recall":
          values.push(recallAt(rels, numRelevant, k, level));
          break;
        case "precision":
          values.push(precisionAt(rels, k, level));
          break;
        case "mrr":
          values.push(reciprocalRankAt(rels, k, level));
          break;
      }
    }
  }
  return values;
}

/** Sorted, de-duplicated positive integer cutoffs (trec_eval refuses duplicates; order is cosmetic). */
function checkCutoffs(k: readonly number[]): number[] {
  if (k.length === 0) throw new Error("evaluateRun: k must name at least one cutoff");
  for (const c of k) {
    if (!Number.isInteger(c) || c < 1) throw new Error(`evaluateRun: cutoff ${c} in k is not a positive integer`);
  }
  return [...new Set(k)].sort((a, b) => a - b);
}

function checkMeasures(measures: readonly Measure[]): Measure[] {
  if (measures.length === 0) throw new Error("evaluateRun: measures must name at least one measure");
  for (const m of measures) {
    if (!MEASURES.includes(m)) {
      throw new Error(`evaluateRun: unknown measure ${JSON.stringify(m)}; known: ${MEASURES.join(", ")}`);
    }
  }
  return [...new Set(measures)];
}
