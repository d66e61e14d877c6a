import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MEMORY_LOCATION, VectorStore } from "../src/index.js";
import { bruteForce, fakeIdentity, unitVectors } from "./support/vectors.js";

const D = 16;
const N = 300;
let store: VectorStore;
const vectors = unitVectors(N, D, 3);
const ids = vectors.map((_, i) => `doc${i}`);
const topics = ["biology", "physics", "history"];
const texts = ids.map((id, i) => `Document ${id} about ${topics[i % 3]} and topic number ${i}.`);
const docs = ids.map((id, i) => ({
  id,
  text: texts[i] as string,
  metadata: { topic: topics[i % 3] },
  vector: vectors[i] as Float32Array,
}));

beforeAll(async () => {
  store = await VectorStore.open(MEMORY_LOCATION);
});
afterAll(async () => {
  await store?.close();
});

describe("VectorStore on embedded PGlite", () => {
  it("exact search returns the float64 brute-force top k, with scores", async () => {
    const collection = await store.collection("exact", { retriever: fakeIdentity(D) });
    await collection.upsert(docs);
    expect(await collection.count()).toBe(N);
    for (const q of unitVectors(5, D, 11)) {
      const hits = await collection.search(q, { k: 10 });
      const expected = bruteForce(q, vectors, ids, 10);
      expect(hits.map((h) => h.id)).toEqual(expected.map((h) => h.id));
      hits.forEach((h, i) => {
        expect(h.score).toBeCloseTo(expected[i]?.score as number, 5);
      });
    }
  });

  it("filters by metadata, returns text, deletes and reports existing ids", async () => {
    const collection = await store.collection("exact", { retriever: fakeIdentity(D) });
    const q = unitVectors(1, D, 12)[0] as Float32Array;
    const hits = await collection.search(q, { k: 5, filter: { topic: "physics" }, withText: true });
    const physics = ids.filter((_, i) => i % 3 === 1);
    expect(hits.map((h) => h.id)).toEqual(
      bruteForce(
        q,
        vectors.filter((_, i) => i % 3 === 1),
        physics,
        5,
      ).map((h) => h.id),
    );
    expect(hits[0]?.text).toBe(texts[ids.indexOf(hits[0]?.id as string)]);
    expect(hits[0]?.metadata).toEqual({ topic: "physics" });
    expect(await collection.existingIds(["doc1", "nope", "doc2"])).toEqual(new Set(["doc1", "doc2"]));
    expect(await collection.delete([hits[0]?.id as string, "nope"])).toBe(1);
    const after = await collection.search(q, { k: 5, filter: { topic: "physics" } });
    expect(after.map((h) => h.id)).not.toContain(hits[0]?.id);
    expect(await collection.count()).toBe(N - 1);
  });

  it("upsert replaces a document with the same id", async () => {
    const collection = await store.collection("replace", { retriever: fakeIdentity(D) });
    await collection.upsert(docs.slice(0, 3));
    const moved = { ...docs[0], text: "replaced text", vector: vectors[2] as Float32Array } as (typeof docs)[0];
    await collection.upsert([moved]);
    expect(await collection.count()).toBe(3);
    const hits = await collection.search(vectors[2] as Float32Array, { k: 3, withText: true });
    expect(hits.find((h) => h.id === "doc0")?.text).toBe("replaced text");
    expect(hits.find((h) => h.id === "doc0")?.score).toBeCloseTo(1, 5);
  });

  it("HNSW search finds most of the exact top 10, and exact: true still scans", async () => {
    const collection = await store.collection("exact", { retriever: fakeIdentity(D) });
    expect(await collection.hnswIndex()).toBeNull();
    await collection.createHnswIndex({ m: 8, efConstruction: 32 });
    expect(await collection.hnswIndex()).toEqual({ m: 8, efConstruction: 32 });
    let found = 0;
    const queries = unitVectors(10, D, 13);
    const remaining = (await collection.existingIds(ids)) as Set<string>;
    const keptIds = ids.filter((id) => remaining.has(id));
    const kept = vectors.filter((_, i) => remaining.has(ids[i] as string));
    for (const q of queries) {
      const truth = bruteForce(q, kept, keptIds, 10).map((h) => h.id);
      const approx = await collection.search(q, { k: 10, efSearch: 40 });
      found += approx.filter((h) => truth.includes(h.id)).length;
      expect((await collection.search(q, { k: 10, exact: true })).map((h) => h.id)).toEqual(truth);
    }
    expect(found / (10 * queries.length)).toBeGreaterThan(0.8);
    await collection.dropHnswIndex();
    expect(await collection.hnswIndex()).toBeNull();
  });

  it("keyword search ranks by ts_rank_cd with stemming; hybrid fuses both rankings", async () => {
    const collection = await store.collection("words", { retriever: fakeIdentity(D) });
    await collection.upsert([
      { id: "a", text: "Proteins fold into structures.", vector: vectors[0] as Float32Array },
      { id: "b", text: "The protein folding problem: how a protein folds.", vector: vectors[1] as Float32Array },
      { id: "c", text: "Rivers flow to the sea.", vector: vectors[2] as Float32Array },
    ]);
    const keyword = await collection.keywordSearch("protein folding", { k: 3 });
    expect(keyword.map((h) => h.id)).toEqual(["b", "a"]);
    const query = vectors[2] as Float32Array;
    const dense = await collection.search(query, { k: 3 });
    expect(dense[0]?.id).toBe("c");
    const hybrid = await collection.hybridSearch("protein folding", query, { k: 3 });
    // RRF by hand: each ranking adds 1 / (60 + rank).
    const rrf = new Map<string, number>();
    for (const ranking of [dense, keyword]) {
      for (const [i, h] of ranking.entries()) rrf.set(h.id, (rrf.get(h.id) ?? 0) + 1 / (61 + i));
    }
    const expected = [...rrf].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1));
    expect(hybrid.map((h) => [h.id, h.score])).toEqual(expected);
    // b: first by keyword plus any dense rank beats c, first by vector alone.
    expect(hybrid[0]?.id).toBe("b");
  });

  it("refuses vectors of another retriever, a wrong dimension and bad documents, writing nothing", async () => {
    await expect(store.collection("exact", { retriever: fakeIdentity(D, 2) })).rejects.toThrow(
      /holds vectors of retriever fake-1 .*not of fake-2/,
    );
    const collection = await store.collection("strict", { retriever: fakeIdentity(D) });
    const good = docs[0] as (typeof docs)[0];
    await expect(collection.upsert([good, { ...good, id: "x", vector: new Float32Array(D + 1) }])).rejects.toThrow(
      /documents\[1\] \(id "x"\): vector has 17 dimensions, but the collection holds 16-dimensional/,
    );
    await expect(collection.upsert([good, { ...good, id: "y", text: "  " }])).rejects.toThrow(
      /documents\[1\] \(id "y"\): text must be a non-empty/,
    );
    await expect(collection.upsert([good, good])).rejects.toThrow(
      /documents\[1\] \(id "doc0"\): duplicate id, also documents\[0\]/,
    );
    await expect(collection.upsert([{ ...good, vector: new Float32Array(D).fill(Number.NaN) }])).rejects.toThrow(
      /vector\[0\] is NaN/,
    );
    await expect(collection.search(new Float32Array(3))).rejects.toThrow(/query has 3 dimensions/);
    await expect(collection.search(vectors[0] as Float32Array, { k: 0 })).rejects.toThrow(
      /options.k must be a positive integer/,
    );
    await expect(store.collection("Bad-Name", { retriever: fakeIdentity(D) })).rejects.toThrow(/name must be/);
    expect(await collection.count()).toBe(0);
  });

  it("lists and drops collections", async () => {
    const names = (await store.collections()).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(["exact", "replace", "strict", "words"]));
    expect(await store.dropCollection("replace")).toBe(true);
    expect(await store.dropCollection("replace")).toBe(false);
    await expect(store.collection("replace", { retriever: fakeIdentity(D), create: false })).rejects.toThrow(
      /no collection "replace"/,
    );
  });
});

describe("VectorStore in a directory", () => {
  it("keeps collections across reopening", async () => {
    const dir = await mkdtemp(join(tmpdir(), "revela-vs-"));
    try {
      const first = await VectorStore.open(join(dir, "db"));
      await (await first.collection("kept", { retriever: fakeIdentity(D), metric: "cosine" })).upsert(
        docs.slice(0, 20),
      );
      await first.close();
      const second = await VectorStore.open(join(dir, "db"));
      const collection = await second.collection("kept", { retriever: fakeIdentity(D), create: false });
      expect(collection.metric).toBe("cosine");
      expect(await collection.count()).toBe(20);
      const hits = await collection.search(vectors[5] as Float32Array, { k: 1 });
      expect(hits[0]?.id).toBe("doc5");
      expect(hits[0]?.score).toBeCloseTo(1, 6);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
