import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type BeirDocument, denseRetrieve, evaluateRun, loadBeirDataset, type Run } from "@revela/eval";
import type { Retriever } from "@revela/retriever";
import { afterAll, describe, expect, it } from "vitest";
import { MEMORY_LOCATION, retrieverIdentity, VectorStore } from "../src/index.js";
import { tinyRetriever } from "./support/tinyRetriever.js";

// The repository's shared data sits beside the repository root.
const SCIFACT = resolve(import.meta.dirname, "../../../../shared/data/scifact");
const QUERIES = 60;
const DOCUMENTS = 600;
const K = 100;

const textOf = (doc: BeirDocument) => (doc.title ? `${doc.title} ${doc.text}` : doc.text);
const rowsOf = (data: Float32Array, d: number) =>
  Array.from({ length: data.length / d }, (_, i) => data.subarray(i * d, (i + 1) * d));

let retriever: Retriever | undefined;
let store: VectorStore | undefined;
afterAll(async () => {
  retriever?.dispose();
  await store?.close();
});

describe.skipIf(!existsSync(SCIFACT))("exact search through the database on SciFact", () => {
  it(`gives the in-process exact search's nDCG@10 and rankings (${QUERIES} test queries, ${DOCUMENTS} documents, random tiny retriever)`, async () => {
    const dataset = await loadBeirDataset(SCIFACT, { split: "test" });
    // A slice: the first queries with judgements, every document judged for them, then corpus order.
    const queryIds = [...dataset.queries.keys()].filter((id) => dataset.qrels.has(id)).slice(0, QUERIES);
    const queries = new Map(queryIds.map((id) => [id, dataset.queries.get(id) as string]));
    const judged = new Set(queryIds.flatMap((id) => [...(dataset.qrels.get(id) as Map<string, number>).keys()]));
    const corpus = [...dataset.corpus.values()].filter((d) => judged.has(d.id));
    for (const doc of dataset.corpus.values()) {
      if (corpus.length >= DOCUMENTS) break;
      if (!judged.has(doc.id)) corpus.push(doc);
    }
    retriever = await tinyRetriever([...corpus.map(textOf), ...queries.values()]);
    const d = retriever.dimensions;
    // Encoded once for both paths: what is compared is the search.
    const passages = rowsOf((await retriever.encodePassages(corpus.map(textOf), { batchSize: 32 })).data, d);
    const queryVectors = rowsOf((await retriever.encodeQueries([...queries.values()], { batchSize: 32 })).data, d);
    const byDoc = new Map(corpus.map((doc, i) => [doc.id, passages[i] as Float32Array]));

    const inProcess = await denseRetrieve(
      {
        encodeQueries: () => queryVectors,
        encodeDocuments: (docs) => docs.map((doc) => byDoc.get(doc.id) as Float32Array),
      },
      corpus,
      queries,
      { k: K },
    );

    store = await VectorStore.open(MEMORY_LOCATION);
    const collection = await store.collection("scifact", { retriever: retrieverIdentity(retriever, "tiny") });
    await collection.upsert(
      corpus.map((doc, i) => ({ id: doc.id, text: textOf(doc), vector: passages[i] as Float32Array })),
    );
    const throughDb: Run = new Map();
    for (const [q, id] of queryIds.entries()) {
      const hits = await collection.search(queryVectors[q] as Float32Array, { k: K, exact: true });
      throughDb.set(
        id,
        hits.map((h) => ({ docId: h.id, score: h.score })),
      );
    }

    const measures = { k: [10, 100], measures: ["ndcg", "recall"] as ("ndcg" | "recall")[] };
    const a = evaluateRun(inProcess, dataset.qrels, measures);
    const b = evaluateRun(throughDb, dataset.qrels, measures);
    expect(b.mean["NDCG@10"]).toBe(a.mean["NDCG@10"]);
    expect(b.mean["Recall@100"]).toBe(a.mean["Recall@100"]);
    for (const id of queryIds) {
      const ranked = (run: Run) => [...(run.get(id) ?? [])].map((h) => h.docId);
      expect(ranked(throughDb), `query ${id}`).toEqual(ranked(inProcess));
    }
  }, 600_000); // only stops a hung run: on a loaded 2-core machine this took 120 s of wall time for 17 s of CPU
});
