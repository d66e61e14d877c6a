import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateRun, type Qrels, type Run, readQrels, readTrecRun } from "../src/index.js";
import { fixturesDir } from "./support/scifact.js";

const qrels = (rows: Record<string, Record<string, number>>): Qrels =>
  new Map(Object.entries(rows).map(([q, docs]) => [q, new Map(Object.entries(docs))]));
const run = (rows: Record<string, Record<string, number>>): Run =>
  new Map(
    Object.entries(rows).map(([q, docs]) => [q, Object.entries(docs).map(([docId, score]) => ({ docId, score }))]),
  );

describe("evaluateRun against the real trec_eval 10.0", () => {
  // Golden: test/fixtures/trec-eval/generate.mjs; expected.txt is `trec_eval -q -c` at full precision.
  const dir = path.join(fixturesDir, "trec-eval");
  const expected = new Map<string, Map<string, number>>();
  for (const line of readFileSync(path.join(dir, "expected.txt"), "utf8").trim().split("\n")) {
    const [measure, queryId, value] = line.split("\t").map((s) => s.trim()) as [string, string, string];
    const name =
      measure === "recip_rank"
        ? "MRR@1000"
        : measure
            .replace(/^ndcg_cut_/, "NDCG@")
            .replace(/^map_cut_/, "MAP@")
            .replace(/^recall_/, "Recall@")
            .replace(/^P_/, "P@");
    if (!name.includes("@")) continue;
    if (!expected.has(queryId)) expected.set(queryId, new Map());
    expected.get(queryId)?.set(name, Number(value));
  }

  it("matches every per-query value and every mean (ties, grades, short rankings, a missing query)", async () => {
    const judged = await readQrels(path.join(dir, "qrels.tsv"));
    const results = await readTrecRun(path.join(dir, "run.trec"));
    const result = evaluateRun(results, judged, { missingQueries: "zero" });
    expect(expected.size).toBe(25); // 24 judged queries + "all"
    let compared = 0;
    for (const [queryId, values] of expected) {
      const ours = queryId === "all" ? result.mean : result.perQuery[queryId];
      expect(ours, `query ${queryId}`).toBeDefined();
      for (const [name, value] of values) {
        expect(Math.abs((ours?.[name] as number) - value), `${queryId} ${name}`).toBeLessThan(1e-12);
        compared++;
      }
    }
    expect(compared).toBe(25 * 25);
    expect(result.numQueries).toBe(24);
    expect(result.runQueriesWithoutQrels).toBe(1); // q25
    expect(result.qrelsQueriesWithoutRun).toBe(1); // q23
  });

  it("by default leaves a judged query without results out of the mean, as pytrec_eval does", async () => {
    const judged = await readQrels(path.join(dir, "qrels.tsv"));
    const results = await readTrecRun(path.join(dir, "run.trec"));
    const skipped = evaluateRun(results, judged, { k: [10] });
    expect(skipped.numQueries).toBe(23);
    expect(skipped.perQuery.q23).toBeUndefined();
    const all = expected.get("all")?.get("NDCG@10") as number;
    expect(skipped.mean["NDCG@10"]).toBeCloseTo((all * 24) / 23, 12);
  });
});

describe("evaluateRun semantics", () => {
  it("breaks score ties by descending document id in byte order, ignoring the order given", () => {
    const judged = qrels({ q: { d9: 1 } });
    // "d9" > "d10" as strings, so d9 ranks first among equal scores wherever it appears.
    for (const order of [
      { d10: 1, d9: 1 },
      { d9: 1, d10: 1 },
    ]) {
      expect(evaluateRun(run({ q: order }), judged, { k: [1] }).mean["P@1"]).toBe(1);
    }
    expect(evaluateRun(run({ q: { d10: 1, d08: 1 } }), qrels({ q: { d08: 1 } }), { k: [1] }).mean["P@1"]).toBe(0);
  });

  it("orders ids above U+FFFF by code point as strcmp on UTF-8 does", () => {
    // U+1F600 > U+FF5E as code points (and UTF-8 bytes), though its UTF-16 units compare smaller.
    const judged = qrels({ q: { "\u{1F600}": 1 } });
    expect(evaluateRun(run({ q: { "\uFF5E": 2, "\u{1F600}": 2 } }), judged, { k: [1] }).mean["P@1"]).toBe(1);
  });

  it("ranks by score, not by the order of the list", () => {
    const judged = qrels({ q: { a: 1 } });
    const result = evaluateRun(run({ q: { b: 0.1, c: 0.5, a: 0.9 } }), judged, { k: [1], measures: ["mrr"] });
    expect(result.mean["MRR@1"]).toBe(1);
  });

  it("scores 0 on every measure for a query whose judgements are all non-relevant", () => {
    const result = evaluateRun(run({ q: { a: 1, b: 0.5 } }), qrels({ q: { a: 0, b: 0 } }), { k: [1, 10] });
    for (const name of result.measures) expect(result.mean[name], name).toBe(0);
    expect(result.numQueries).toBe(1);
  });

  it("handles k larger than the ranking", () => {
    const result = evaluateRun(run({ q: { a: 2, b: 1 } }), qrels({ q: { a: 1, b: 0, c: 1 } }), { k: [1000] });
    expect(result.mean["P@1000"]).toBe(1 / 1000);
    expect(result.mean["Recall@1000"]).toBe(0.5);
    expect(result.mean["NDCG@1000"]).toBeCloseTo(1 / (1 + 1 / Math.log2(3)), 12);
  });

  it("drops a document whose id equals the query id only when asked, and ranks move up", () => {
    const results = run({ q1: { q1: 9, d1: 5 } });
    const judged = qrels({ q1: { d1: 1 } });
    expect(evaluateRun(results, judged, { k: [1] }).mean["MRR@1"]).toBe(0);
    expect(evaluateRun(results, judged, { k: [1], ignoreIdenticalIds: true }).mean["MRR@1"]).toBe(1);
  });

  it("names measures as BEIR does, measure-major", () => {
    const result = evaluateRun(new Map(), new Map(), { k: [10, 1], measures: ["ndcg", "recall"] });
    expect(result.measures).toEqual(["NDCG@1", "NDCG@10", "Recall@1", "Recall@10"]);
    expect(result.mean["NDCG@10"]).toBe(0);
  });

  it("refuses duplicate documents, non-finite scores, fractional grades and bad options with clear errors", () => {
    const dup: Run = new Map([
      [
        "q",
        [
          { docId: "a", score: 1 },
          { docId: "a", score: 2 },
        ],
      ],
    ]);
    expect(() => evaluateRun(dup, qrels({ q: { a: 1 } }))).toThrow(/query "q" retrieves document "a" more than once/);
    const nan: Run = new Map([["q", [{ docId: "a", score: Number.NaN }]]]);
    expect(() => evaluateRun(nan, qrels({ q: { a: 1 } }))).toThrow(/document "a" has score NaN/);
    expect(() => evaluateRun(run({ q: { a: 1 } }), qrels({ q: { a: 0.5 } }))).toThrow(/grades must be integers/);
    expect(() => evaluateRun(new Map(), new Map(), { k: [0] })).toThrow(/cutoff 0/);
    // @ts-expect-error an unknown measure is what this checks
    expect(() => evaluateRun(new Map(), new Map(), { measures: ["bpref"] })).toThrow(/unknown measure "bpref"/);
  });
});
