import { describe, expect, it } from "vitest";
import { averagePrecisionAt, ndcgAt, precisionAt, recallAt, reciprocalRankAt } from "../src/index.js";

// One ranking with graded relevance: grades of the retrieved documents in rank order, and every
// positive grade judged for the query (one grade-1 document was never retrieved).
const rels = [3, 0, 2, 1];
const ideal = [3, 2, 1, 1];
const numRelevant = 4;

describe("nDCG@k (trec_eval ndcg_cut)", () => {
  it("uses the grade as gain and log2(rank + 1) as discount, against the ideal ranking from the qrels", () => {
    // DCG@4 = 3/1 + 0/log2(3) + 2/2 + 1/log2(5) = 4.43068; IDCG@4 = 3 + 2/log2(3) + 1/2 + 1/log2(5) = 5.19254.
    expect(ndcgAt(rels, ideal, 4)).toBeCloseTo(4.430677 / 5.192537, 6);
    expect(ndcgAt(rels, ideal, 4)).toBeCloseTo(0.853278, 6);
    expect(ndcgAt(rels, ideal, 1)).toBe(1);
    // @2: 3 / (3 + 2/log2(3)) = 3 / 4.261860 = 0.703918
    expect(ndcgAt(rels, ideal, 2)).toBeCloseTo(0.703918, 6);
  });

  it("keeps adding ideal gains past the end of a short ranking", () => {
    // @10 on a ranking of 2: DCG = 3; IDCG = 5.19254 (all four ideal documents fit).
    expect(ndcgAt([3, 0], ideal, 10)).toBeCloseTo(3 / 5.192537, 6);
  });

  it("is 0, not NaN, for a query without relevant documents", () => {
    expect(ndcgAt([0, 0, 0], [], 10)).toBe(0);
  });

  it("treats negative grades as gain 0", () => {
    expect(ndcgAt([-1, 1], [1], 2)).toBeCloseTo(1 / Math.log2(3), 12);
  });
});

describe("MAP@k (trec_eval map_cut)", () => {
  it("divides by all relevant documents, not by min(k, relevant)", () => {
    // Relevant at ranks 1, 3, 4: (1 + 2/3 + 3/4) / 4 = 0.604167
    expect(averagePrecisionAt(rels, numRelevant, 4)).toBeCloseTo(0.604167, 6);
    expect(averagePrecisionAt(rels, numRelevant, 2)).toBe(0.25);
    expect(averagePrecisionAt(rels, numRelevant, 1000)).toBeCloseTo(0.604167, 6);
  });

  it("honours the relevance level: at level 2 only grades ≥ 2 count", () => {
    // Relevant (≥ 2) at ranks 1 and 3, two such documents: (1 + 2/3) / 2
    expect(averagePrecisionAt(rels, 2, 4, 2)).toBeCloseTo(5 / 6, 12);
  });

  it("is 0 without relevant documents", () => {
    expect(averagePrecisionAt([0, 0], 0, 10)).toBe(0);
  });
});

describe("Recall@k, P@k, MRR@k", () => {
  it("recall counts relevant retrieved within k over all relevant", () => {
    expect(recallAt(rels, numRelevant, 2)).toBe(0.25);
    expect(recallAt(rels, numRelevant, 4)).toBe(0.75);
    expect(recallAt(rels, numRelevant, 100)).toBe(0.75);
    expect(recallAt([0], 0, 10)).toBe(0);
  });

  it("precision divides by k even when fewer documents were retrieved", () => {
    expect(precisionAt(rels, 2)).toBe(0.5);
    expect(precisionAt(rels, 10)).toBe(0.3);
    expect(precisionAt([], 5)).toBe(0);
  });

  it("reciprocal rank is 1/rank of the first relevant document within k", () => {
    expect(reciprocalRankAt([0, 0, 1, 1], 10)).toBeCloseTo(1 / 3, 15);
    expect(reciprocalRankAt([0, 0, 1, 1], 2)).toBe(0);
    expect(reciprocalRankAt([0, 1], 10, 2)).toBe(0);
  });
});
