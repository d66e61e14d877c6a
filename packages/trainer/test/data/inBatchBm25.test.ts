import { describe, expect, it } from "vitest";
import { InBatchBm25 } from "../../src/data/inBatchBm25.js";
import type { Chunk } from "../../src/data/types.js";
import { weightStats } from "../../src/revela/weightStats.js";

const chunk = (id: string, text: string): Chunk => ({ id, docId: id, index: 0, text });

describe("InBatchBm25", () => {
  const corpus = [
    chunk("a", "the zorvex protein binds kelmar receptors in the cell"),
    chunk("b", "protein folding in the cell membrane"),
    chunk("c", "zorvex and kelmar were measured again in this cell"),
    chunk("d", "river floods in spring"),
    chunk("e", "protein cell protein cell"),
  ];
  const bm25 = new InBatchBm25(corpus);

  it("picks the chunk sharing the rarest terms, not the one sharing common ones; −1 when nothing is shared", () => {
    const nearest = bm25.nearest(corpus);
    expect(nearest[0]).toBe(2); // zorvex + kelmar (rare) beat protein + cell (common)
    expect(nearest[2]).toBe(0);
    expect(nearest[3]).toBe(-1); // shares no term with the others
  });

  it("feeds weightStats' neighbour mass: W on each row's BM25 neighbour, rows without one excluded", () => {
    const b = 3;
    const w = [0, 0.25, 0.75, 0.5, 0, 0.5, 1, 0, 0];
    expect(weightStats(w, b, ["x", "y", "z"], [2, -1, 0]).neighbourMass).toBeCloseTo((0.75 + 1) / 2, 12);
    expect(weightStats(w, b, ["x", "y", "z"]).neighbourMass).toBeUndefined();
    expect(() => weightStats(w, b, ["x", "y", "z"], [1])).toThrow(/neighbours must have 3 entries, got 1/);
  });

  it("refuses an empty corpus", () => {
    expect(() => new InBatchBm25([])).toThrow(/corpus must be a non-empty chunk array/);
  });
});
