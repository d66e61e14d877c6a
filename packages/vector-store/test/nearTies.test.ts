import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MEMORY_LOCATION, VectorStore } from "../src/index.js";
import { ambiguousPositions, exactScore, scoreErrorBound } from "../src/store/exactScores.js";
import { bruteForce, fakeIdentity, rng, unitVectors } from "./support/vectors.js";

const D = 256;
let store: VectorStore;
beforeAll(async () => {
  store = await VectorStore.open(MEMORY_LOCATION);
});
afterAll(async () => {
  await store?.close();
});

describe("near ties", () => {
  it("rows whose float64 scores differ below float32 precision rank as in float64, ties by id", async () => {
    // Each base vector has 7 twins, each one coordinate nudged by a float32 step: their inner
    // products with a query differ by ~1e-9, far below what pgvector's float32 sums resolve.
    const random = rng(9);
    const bases = unitVectors(20, D, 21);
    const rows: Float32Array[] = [];
    for (const base of bases) {
      rows.push(base);
      for (let t = 0; t < 7; t++) {
        const twin = Float32Array.from(base);
        const d = Math.floor(random() * D);
        twin[d] = (twin[d] as number) + (random() < 0.5 ? -1 : 1) * 2 ** -30;
        rows.push(twin);
      }
      rows.push(Float32Array.from(base)); // an exact duplicate: equal scores, ordered by id
    }
    const ids = rows.map((_, i) => `r${String(i).padStart(3, "0")}`);
    const collection = await store.collection("ties", { retriever: fakeIdentity(D) });
    await collection.upsert(rows.map((vector, i) => ({ id: ids[i] as string, text: "t", vector })));
    for (const base of bases.slice(0, 5)) {
      const query = Float32Array.from(base, (x, d) => x + 0.01 * Math.sin(d));
      const hits = await collection.search(query, { k: 20 });
      const expected = bruteForce(query, rows, ids, 20);
      expect(hits.map((h) => h.id)).toEqual(expected.map((h) => h.id));
      hits.forEach((h, i) => {
        expect(h.score).toBe(expected[i]?.score);
      });
    }
  });

  it("marks exactly the neighbours closer than their error bounds", () => {
    const rows = [1, 0.9, 0.9 - 1e-9, 0.5, 0.2, 0.2].map((score, i) => ({ id: `${i}`, score, norm: 1 }));
    const bounds = rows.map(() => scoreErrorBound("inner_product", D, 1, 1));
    expect(ambiguousPositions(rows, bounds)).toEqual({ positions: [1, 2, 4, 5], tailOpen: true });
    expect(ambiguousPositions(rows.slice(0, 4), bounds)).toEqual({ positions: [1, 2], tailOpen: false });
    expect(exactScore("cosine", Float32Array.of(3, 4), Float32Array.of(0, 2))).toBeCloseTo(0.8, 7);
    expect(exactScore("inner_product", Float32Array.of(3, 4), Float32Array.of(0, 2))).toBe(8);
  });
});
