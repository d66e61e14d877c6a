import { describe, expect, it } from "vitest";
import { type BeirDocument, compareTrecOrder, denseRetrieve, type Encoder, type Hit } from "../src/index.js";

// A deterministic toy encoder: letter counts of the text, so similar texts get similar vectors.
const letters = (text: string): Float32Array => {
  const v = new Float32Array(26);
  for (const c of text.toLowerCase()) {
    const i = c.charCodeAt(0) - 97;
    if (i >= 0 && i < 26) v[i] = (v[i] as number) + 1;
  }
  return v;
};
const toyEncoder = (calls: number[] = []): Encoder => ({
  encodeQueries: (texts) => texts.map(letters),
  encodeDocuments: async (docs) => {
    calls.push(docs.length);
    return docs.map((d) => letters(`${d.title} ${d.text}`));
  },
});

const words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "omega"];
const corpus: BeirDocument[] = Array.from({ length: 57 }, (_, i) => ({
  id: `doc${i}`,
  title: words[i % 10] as string,
  text: `${words[(i * 3) % 10]} ${words[(i * 7) % 10]}`,
}));
const queries = new Map([
  ["q1", "alpha gamma"],
  ["q2", "omega"],
  ["doc3", "kappa theta"],
]);

function bruteForce(query: string, k: number, cosine: boolean): Hit[] {
  const q = letters(query);
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  const hits = corpus.map((doc) => {
    const d = letters(`${doc.title} ${doc.text}`);
    let dot = 0;
    for (let i = 0; i < 26; i++) dot += (q[i] as number) * (d[i] as number);
    return { docId: doc.id, score: cosine ? dot / (norm(q) * norm(d)) : dot };
  });
  return hits.sort(compareTrecOrder).slice(0, k);
}

describe("denseRetrieve (exact search)", () => {
  it("returns the true top k, ties by document id, for every chunk size", async () => {
    for (const chunkSize of [1, 7, 57, 1000]) {
      const run = await denseRetrieve(toyEncoder(), corpus, queries, { k: 10, chunkSize });
      for (const [id, text] of queries) {
        const expected = bruteForce(text, 10, false);
        expect(
          run.get(id)?.map((h) => h.docId),
          `${id} chunk ${chunkSize}`,
        ).toEqual(expected.map((h) => h.docId));
        expect(run.get(id)?.map((h) => h.score)).toEqual(expected.map((h) => h.score));
      }
    }
  });

  it("normalises for cosine similarity", async () => {
    const run = await denseRetrieve(toyEncoder(), corpus, queries, { k: 5, similarity: "cosine" });
    const expected = bruteForce("omega", 5, true);
    expect(run.get("q2")?.map((h) => h.docId)).toEqual(expected.map((h) => h.docId));
    run.get("q2")?.forEach((h, i) => {
      expect(h.score).toBeCloseTo((expected[i] as Hit).score, 6);
    });
  });

  it("encodes documents in bounded chunks and reports progress", async () => {
    const calls: number[] = [];
    const progress: string[] = [];
    await denseRetrieve(toyEncoder(calls), corpus, queries, {
      k: 3,
      chunkSize: 20,
      onProgress: (p) => progress.push(`${p.phase} ${p.done}/${p.total}`),
    });
    expect(calls).toEqual([20, 20, 17]);
    expect(progress).toEqual(["queries 3/3", "documents 20/57", "documents 40/57", "documents 57/57"]);
  });

  it("skips a document whose id is the query id when asked, still returning k", async () => {
    const plain = await denseRetrieve(toyEncoder(), corpus, queries, { k: 60 });
    expect(plain.get("doc3")?.some((h) => h.docId === "doc3")).toBe(true);
    const run = await denseRetrieve(toyEncoder(), corpus, queries, { k: 5, ignoreIdenticalIds: true });
    expect(run.get("doc3")?.some((h) => h.docId === "doc3")).toBe(false);
    expect(run.get("doc3")).toHaveLength(5);
  });

  it("names the input when an encoder misbehaves", async () => {
    const wrongCount: Encoder = { encodeQueries: (t) => t.map(letters), encodeDocuments: () => [letters("a")] };
    await expect(denseRetrieve(wrongCount, corpus, queries, { chunkSize: 4 })).rejects.toThrow(
      /encodeDocuments was given 4 inputs \(from #0\) and returned 1 embeddings/,
    );
    const wrongDim: Encoder = {
      encodeQueries: (t) => t.map(letters),
      encodeDocuments: (d) => d.map((x) => (x.id === "doc5" ? [1, 2] : letters(x.text))),
    };
    await expect(denseRetrieve(wrongDim, corpus, queries)).rejects.toThrow(
      /embedding of document "doc5" has dimension 2, expected 26/,
    );
    const nan: Encoder = {
      encodeQueries: (t) => t.map(() => [Number.NaN, 1]),
      encodeDocuments: (d) => d.map(() => [1, 1]),
    };
    await expect(denseRetrieve(nan, corpus, queries)).rejects.toThrow(/embedding of query "q1" has NaN at position 0/);
    await expect(denseRetrieve(toyEncoder(), corpus, queries, { k: 0 })).rejects.toThrow(
      /k must be a positive integer, got 0/,
    );
  });
});
