/**
 * @revela/eval — BEIR data, trec_eval-exact IR metrics, BM25, dense and hybrid retrieval evaluation.
 * This file is the package's whole public API.
 */

// The shared text layer, re-exported: eval users catch its errors and tune its analyzer.
export { type AnalyzerOptions, DataFormatError, ENGLISH_STOPWORDS, englishAnalyzer } from "@revela/text-data";
export {
  type BeirDataset,
  type BeirDocument,
  loadBeirDataset,
  type ReadOptions,
  readCorpus,
  readQrels,
  readQueries,
} from "./beirDataset.js";
export { Bm25Index, type Bm25Options } from "./bm25Index.js";
export { compareRuns, formatComparisonMarkdown, type RunComparison } from "./compareRuns.js";
export { type DenseRetrieveOptions, denseRetrieve } from "./denseRetrieve.js";
export type { Embedding, Encoder } from "./encoder.js";
export {
  DEFAULT_CUTOFFS,
  type EvaluateOptions,
  type EvaluationResult,
  evaluateRun,
  MEASURES,
  type Measure,
  measureName,
} from "./evaluateRun.js";
export { type FusionOptions, linearFusion, reciprocalRankFusion } from "./fusion.js";
export { averagePrecisionAt, ndcgAt, precisionAt, recallAt, reciprocalRankAt } from "./measures.js";
export { formatResultsJson, formatResultsMarkdown } from "./resultsReport.js";
export type { RetrievalProgress, RetrieveOptions } from "./retrieveOptions.js";
export type { Hit, Qrels, Run } from "./run.js";
export { compareBytewise, compareTrecOrder } from "./trecOrder.js";
export { formatTrecRun, parseTrecRun, readTrecRun, writeTrecRun } from "./trecRunFile.js";
