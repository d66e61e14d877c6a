import { describe, expect, it } from "vitest";
import { Bm25Index, englishAnalyzer, evaluateRun, loadBeirDataset } from "../src/index.js";
import { scifactDir } from "./support/scifact.js";

const docs = [
  { id: "d1", title: "Cats", text: "the cat sat on the mat" },
  { id: "d2", title: "Dogs", text: "a dog chased the cat around the garden and the dog barked" },
  { id: "d3", title: "Birds", text: "birds sing in the morning" },
  { id: "d4", title: "", text: "nothing relevant here at all" },
];

/** The BM25 formula written out, for one query term (idf as Lucene: ln(1 + (N − n + 0.5)/(n + 0.5))). */
function bm25Term(tf: number, len: number, avgLen: number, n: number, N: number, k1: number, b: number): number {
  const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
  return (idf * (tf * (k1 + 1))) / (tf + k1 * (1 - b + (b * len) / avgLen));
}

describe("englishAnalyzer", () => {
  it("lowercases, drops possessives and stopwords, splits on non-alphanumerics", () => {
    expect(englishAnalyzer({ stem: null })("The cell's IL-6 response is NOT 2.5-fold in α-cells")).toEqual([
      "cell",
      "il",
      "6",
      "response",
      "not",
      "2",
      "5",
      "fold",
      "α",
      "cells",
    ]);
    expect(englishAnalyzer({ stem: (t) => t.replace(/s$/, "") })("cells")).toEqual(["cell"]);
  });

  it("stems with Porter2 by default, as Pyserini's analyzer stems", () => {
    expect(englishAnalyzer()("Running cells were studied")).toEqual(["run", "cell", "were", "studi"]);
  });
});

describe("Bm25Index", () => {
  it("scores title + text with k1 = 0.9, b = 0.4 by the BM25 formula", () => {
    const index = Bm25Index.build(docs, { analyzer: englishAnalyzer({ stem: null }) });
    expect([index.k1, index.b]).toEqual([0.9, 0.4]);
    // Token counts after the analyzer: d1 "cats cat sat mat" 4, d2 "dogs dog chased cat around garden dog barked" 8,
    // d3 "birds birds sing morning" 4, d4 "nothing relevant here all" 4 → average 5. "cat" is in d1 and d2.
    const hits = index.search("cat", 10);
    expect(hits.map((h) => h.docId)).toEqual(["d1", "d2"]);
    expect(hits[0]?.score).toBeCloseTo(bm25Term(1, 4, 5, 2, 4, 0.9, 0.4), 8);
    expect(hits[1]?.score).toBeCloseTo(bm25Term(1, 8, 5, 2, 4, 0.9, 0.4), 8);
    const dog = index.search("dog");
    expect(dog[0]?.score).toBeCloseTo(bm25Term(2, 8, 5, 1, 4, 0.9, 0.4), 8);
  });

  it("refuses parameters wink would silently replace, and too small a corpus", () => {
    expect(() => Bm25Index.build(docs, { b: 1.5 })).toThrow(/b must be in \[0, 1\], got 1.5/);
    expect(() => Bm25Index.build(docs, { k1: -1 })).toThrow(/k1 must be a finite number ≥ 0, got -1/);
    expect(() => Bm25Index.build(docs.slice(0, 2))).toThrow(/at least 3 documents, got 2/);
  });

  it("retrieves a run, optionally without the query's own id", () => {
    const index = Bm25Index.build(docs);
    const run = index.retrieve(
      new Map([
        ["d1", "cat"],
        ["q", "morning birds"],
      ]),
      { k: 5, ignoreIdenticalIds: true },
    );
    expect(run.get("d1")?.map((h) => h.docId)).toEqual(["d2"]);
    expect(run.get("q")?.map((h) => h.docId)).toEqual(["d3"]);
  });

  it("SciFact test split: nDCG@10 near Pyserini's 0.665–0.679", async () => {
    const ds = await loadBeirDataset(scifactDir());
    const index = Bm25Index.build(ds.corpus);
    const run = index.retrieve(ds.queries, { k: 1000 });
    const result = evaluateRun(run, ds.qrels, { k: [10, 100] });
    const ndcg10 = result.mean["NDCG@10"] as number;
    console.log(
      `BM25 (k1=0.9, b=0.4, title+text, Porter2 stemming) on SciFact test: nDCG@10 = ${ndcg10.toFixed(4)}, Recall@100 = ${(result.mean["Recall@100"] as number).toFixed(4)} (Pyserini: 0.679 flat / 0.665 multifield)`,
    );
    expect(result.numQueries).toBe(300);
    expect(ndcg10).toBeGreaterThanOrEqual(0.6);
    expect(ndcg10).toBeLessThan(0.75);
  });
});
