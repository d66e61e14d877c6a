import { describe, expect, it } from "vitest";
import { TopK } from "../src/index.js";

/** A seeded stream of scores with many ties. */
function scores(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return (x % 11) / 10;
  });
}

describe("TopK", () => {
  it("keeps the k best of a stream, best first, equal scores in key order (rows: the earlier first)", () => {
    const s = scores(500, 3);
    for (const k of [0, 1, 5, 64, 600]) {
      const heap = new TopK<number>(k, (a, b) => a - b);
      s.forEach((score, row) => {
        if (score >= heap.threshold) heap.offer(score, row);
      });
      const expected = s
        .map((score, row) => ({ score, row }))
        .sort((a, b) => b.score - a.score || a.row - b.row)
        .slice(0, k);
      const got = heap.sorted();
      expect(got.keys).toEqual(expected.map((e) => e.row));
      expect(got.scores).toEqual(expected.map((e) => e.score));
      expect(heap.count).toBe(Math.min(k, s.length));
    }
  });

  it("gives the same k whatever order the pairs arrive in (string keys, the greater first on ties)", () => {
    const s = scores(200, 7);
    const pairs = s.map((score, i) => ({ key: `d${(i * 37) % 200}`, score }));
    const descending = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);
    const expected = [...pairs].sort((a, b) => b.score - a.score || descending(a.key, b.key)).slice(0, 25);
    for (const order of [pairs, [...pairs].reverse()]) {
      const heap = new TopK<string>(25, descending);
      for (const p of order) heap.offer(p.score, p.key);
      expect(heap.sorted().keys).toEqual(expected.map((e) => e.key));
    }
  });

  it("names bad arguments", () => {
    expect(() => new TopK(-1, (a: number, b: number) => a - b)).toThrow(
      /TopK: k must be a non-negative integer, got -1/,
    );
    expect(() => new TopK(2, undefined as unknown as (a: number, b: number) => number)).toThrow(
      /keyOrder must be a function/,
    );
  });
});
