import { describe, expect, it } from "vitest";
import { linearFusion, type Run, reciprocalRankFusion } from "../src/index.js";

const bm25: Run = new Map([
  [
    "q",
    [
      { docId: "a", score: 12 },
      { docId: "b", score: 8 },
      { docId: "c", score: 4 },
    ],
  ],
]);
const dense: Run = new Map([
  [
    "q",
    [
      { docId: "c", score: 0.9 },
      { docId: "d", score: 0.8 },
      { docId: "a", score: 0.1 },
    ],
  ],
  ["q2", [{ docId: "x", score: 1 }]],
]);

describe("reciprocalRankFusion", () => {
  it("sums 1/(60 + rank) over the runs that retrieved each document", () => {
    const fused = reciprocalRankFusion([bm25, dense]);
    const scores = Object.fromEntries((fused.get("q") ?? []).map((h) => [h.docId, h.score]));
    expect(scores.a).toBeCloseTo(1 / 61 + 1 / 63, 15);
    expect(scores.c).toBeCloseTo(1 / 63 + 1 / 61, 15);
    expect(scores.b).toBeCloseTo(1 / 62, 15);
    expect(scores.d).toBeCloseTo(1 / 62, 15);
    // a and c tie exactly: the larger id ranks first, as trec_eval would rank them.
    expect(fused.get("q")?.map((h) => h.docId)).toEqual(["c", "a", "d", "b"]);
    expect(fused.get("q2")).toEqual([{ docId: "x", score: 1 / 61 }]);
  });

  it("applies weights, rrfK and the output depth", () => {
    const fused = reciprocalRankFusion([bm25, dense], { weights: [2, 1], rrfK: 0, k: 2 });
    expect(fused.get("q")).toEqual([
      { docId: "a", score: 2 + 1 / 3 },
      { docId: "c", score: 2 / 3 + 1 },
    ]);
  });
});

describe("linearFusion", () => {
  it("min-max normalises each run per query and sums with weights", () => {
    const fused = linearFusion([bm25, dense], { weights: [0.5, 0.5] });
    const scores = Object.fromEntries((fused.get("q") ?? []).map((h) => [h.docId, h.score]));
    expect(scores.a).toBeCloseTo(0.5 * 1 + 0.5 * 0, 15);
    expect(scores.b).toBeCloseTo(0.5 * 0.5, 15);
    expect(scores.c).toBeCloseTo(0.5 * 0 + 0.5 * 1, 15);
    expect(scores.d).toBeCloseTo(0.5 * (0.7 / 0.8), 15);
    expect(fused.get("q2")).toEqual([{ docId: "x", score: 0.5 }]); // all-equal scores scale to 1
  });

  it("refuses mismatched or invalid weights", () => {
    expect(() => linearFusion([bm25, dense], { weights: [1] })).toThrow(/1 weights for 2 runs/);
    expect(() => reciprocalRankFusion([bm25], { weights: [-1] })).toThrow(/weight 0 is -1/);
    expect(() => linearFusion([])).toThrow(/at least one run/);
  });
});
