import { describe, expect, it } from "vitest";
import {
  compareRuns,
  evaluateRun,
  formatComparisonMarkdown,
  formatResultsJson,
  formatResultsMarkdown,
  type Qrels,
  type Run,
} from "../src/index.js";

const qrels: Qrels = new Map([
  ["q1", new Map([["a", 1]])],
  ["q2", new Map([["b", 2]])],
]);
const good: Run = new Map([
  [
    "q1",
    [
      { docId: "a", score: 2 },
      { docId: "x", score: 1 },
    ],
  ],
  ["q2", [{ docId: "b", score: 2 }]],
]);
const worse: Run = new Map([
  [
    "q1",
    [
      { docId: "x", score: 2 },
      { docId: "a", score: 1 },
    ],
  ],
  ["q2", [{ docId: "b", score: 2 }]],
]);

describe("reports", () => {
  it("markdown: one row per measure, one column per cutoff", () => {
    const result = evaluateRun(worse, qrels, { k: [1, 2], measures: ["ndcg", "mrr"] });
    expect(formatResultsMarkdown(result)).toBe(
      "| measure | @1 | @2 |\n| --- | ---: | ---: |\n| NDCG | 0.5000 | 0.8155 |\n| MRR | 0.5000 | 0.7500 |\n\n2 queries.\n",
    );
  });

  it("JSON: the summary, and per-query values on request", () => {
    const result = evaluateRun(good, qrels, { k: [1], measures: ["precision"] });
    const summary = JSON.parse(formatResultsJson(result));
    expect(summary).toEqual({
      measures: ["P@1"],
      mean: { "P@1": 1 },
      numQueries: 2,
      runQueriesWithoutQrels: 0,
      qrelsQueriesWithoutRun: 0,
    });
    const full = JSON.parse(formatResultsJson(result, { perQuery: true }));
    expect(full.perQuery).toEqual({ q1: { "P@1": 1 }, q2: { "P@1": 1 } });
  });

  it("compares runs: best in bold, wins/ties/losses against the first run", () => {
    const comparison = compareRuns({ worse, good }, qrels, { k: [1, 10], measures: ["ndcg"], primary: "NDCG@1" });
    expect(comparison.versusBaseline).toEqual([
      { wins: 0, ties: 2, losses: 0 },
      { wins: 1, ties: 1, losses: 0 },
    ]);
    expect(formatComparisonMarkdown(comparison)).toBe(
      "| run | NDCG@1 | NDCG@10 | W/T/L vs worse (NDCG@1) |\n" +
        "| --- | ---: | ---: | ---: |\n" +
        "| worse | 0.5000 | 0.8155 | — |\n" +
        "| good | **1.0000** | **1.0000** | 1/1/0 |\n",
    );
    expect(() => compareRuns({ good }, qrels, { primary: "nDCG@10" })).toThrow(
      /primary measure "nDCG@10" is not computed/,
    );
  });
});
