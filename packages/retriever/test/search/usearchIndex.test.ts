import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@revela/kernels";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExactIndex, type SearchResult, UsearchIndex } from "../../src/index.js";
import { clusteredUnitVectors, randomUnitVectors } from "../support/randomVectors.js";

let scratch: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm" });
  scratch = await mkdtemp(join(tmpdir(), "revela-usearch-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

function recallAt(k: number, approx: SearchResult, exact: SearchResult): number {
  let hits = 0;
  exact.ids.forEach((truth, q) => {
    const found = new Set(approx.ids[q]!.slice(0, k));
    hits += truth.slice(0, k).filter((id) => found.has(id)).length;
  });
  return hits / (exact.ids.length * k);
}

describe("UsearchIndex", () => {
  it("recall@10 ≥ 0.95 against exact search on 100k random 256-d vectors (1000 clusters)", async () => {
    const n = 100_000;
    const d = 256;
    const corpus = clusteredUnitVectors(n, d, 11);
    const queries = clusteredUnitVectors(200, d, 12);
    const ids = Array.from({ length: n }, (_, i) => `p${i}`);
    // Settings chosen so that building 100k stays around 10 s on 2 cores (see the README).
    const ann = new UsearchIndex(d, { connectivity: 12, expansionAdd: 48, expansionSearch: 96 });
    // Added 10k at a time with a turn of the event loop between: one synchronous 100k build blocks the
    // worker long enough on a loaded machine (108 s seen) for vitest's RPC to time out.
    const slice = 10_000;
    for (let i = 0; i < n; i += slice) {
      ann.add(ids.slice(i, i + slice), { data: corpus.data.subarray(i * d, (i + slice) * d), shape: [slice, d] });
      await new Promise((resolve) => setImmediate(resolve));
    }
    const exact = new ExactIndex(d);
    exact.add(ids, corpus);
    const truth = await exact.search(queries, 10);
    const found = await ann.search(queries, 10);
    expect(ann.size).toBe(n);
    expect(recallAt(10, found, truth)).toBeGreaterThanOrEqual(0.95);
    // Scores are inner products: where ids agree, the scores agree.
    const top = truth.ids[0]![0]!;
    const j = found.ids[0]!.indexOf(top);
    if (j >= 0) expect(found.scores[0]![j]).toBeCloseTo(truth.scores[0]![0]!, 4);
  });

  it("finds exact top-k on a small index, one query or many, k above the size", async () => {
    const corpus = randomUnitVectors(300, 16, 5);
    const queries = randomUnitVectors(4, 16, 6);
    const ids = Array.from({ length: 300 }, (_, i) => `id/${i}`);
    const ann = new UsearchIndex(16, { expansionSearch: 300 });
    ann.add(ids.slice(0, 100), { data: corpus.data.subarray(0, 100 * 16), shape: [100, 16] });
    ann.add(ids.slice(100), { data: corpus.data.subarray(100 * 16), shape: [200, 16] });
    const exact = new ExactIndex(16);
    exact.add(ids, corpus);
    const many = await ann.search(queries, 5);
    expect(many.ids).toEqual((await exact.search(queries, 5)).ids);
    const one = await ann.search({ data: queries.data.subarray(0, 16), shape: [1, 16] }, 5);
    expect(one.ids).toEqual([many.ids[0]]);
    expect(one.scores[0]![0]).toBeCloseTo(many.scores[0]![0]!, 6);
    const tiny = new UsearchIndex(16);
    tiny.add(["x", "y"], { data: corpus.data.slice(0, 32), shape: [2, 16] });
    expect((await tiny.search(queries, 10)).ids.every((row) => row.length === 2)).toBe(true);
    expect((await new UsearchIndex(16).search(queries, 3)).ids).toEqual([[], [], [], []]);
  });

  it("saves and loads the graph with its ids", async () => {
    const corpus = randomUnitVectors(500, 32, 8);
    const queries = randomUnitVectors(10, 32, 9);
    const ids = Array.from({ length: 500 }, (_, i) => `doc ${i}`);
    const ann = new UsearchIndex(32, { connectivity: 8 });
    ann.add(ids, corpus);
    const file = join(scratch, "graph.usearch");
    await ann.save(file);
    const loaded = await UsearchIndex.load(file);
    expect(loaded.size).toBe(500);
    expect(loaded.connectivity).toBe(8);
    expect(await loaded.search(queries, 7)).toEqual(await ann.search(queries, 7));
    expect(() => loaded.add(["doc 3"], { data: new Float32Array(32), shape: [1, 32] })).toThrow(
      /"doc 3" is already in the index/,
    );
  });

  it("fails naming the problem", async () => {
    await expect(UsearchIndex.load(join(scratch, "none.usearch"))).rejects.toThrow(/none\.usearch\.ids\.json/);
    const file = join(scratch, "bad.usearch");
    await writeFile(`${file}.ids.json`, JSON.stringify({ format: "revela-usearch-ids", version: 9, ids: [] }));
    await expect(UsearchIndex.load(file)).rejects.toThrow(/format version 9; this code reads version 1/);
    expect(() => new UsearchIndex(0)).toThrow(/dimensions must be a positive integer/);
    expect(() => new UsearchIndex(8, { connectivity: 1.5 })).toThrow(/options.connectivity must be a positive integer/);
    const ann = new UsearchIndex(8);
    expect(() => ann.add(["a"], { data: new Float32Array(4), shape: [1, 4] })).toThrow(
      /has 4 dimensions, but the index holds 8/,
    );
    await expect(ann.search({ data: new Float32Array(8), shape: [1, 8] }, -1)).rejects.toThrow(
      /k must be a positive integer/,
    );
  });
});
