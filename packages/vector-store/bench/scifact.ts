import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { emit, median } from "@revela/bench";
import { type BeirDocument, denseRetrieve, evaluateRun, loadBeirDataset, type Run } from "@revela/eval";
import { initBackend } from "@revela/kernels";
import { loadRetriever } from "@revela/retriever";
import { Index } from "usearch";
import { MEMORY_LOCATION, retrieverIdentity, VectorStore } from "../src/index.js";

/**
 * SciFact through the database, the whole test split (300 queries, 5,183 documents): index
 * throughput (rows/s, encoding timed apart), queries/s and nDCG@10 of exact search in process
 * (@revela/eval's denseRetrieve, the baseline) and through PGlite, and of HNSW in PGlite and in
 * usearch. Exact through the database must give the in-process nDCG@10 exactly. The retriever is
 * REVELA_BENCH_RETRIEVER (a saved retriever folder; a random one ranks poorly but the equality holds).
 */

const SCIFACT = resolve(process.cwd(), "../../../shared/data/scifact");
const RETRIEVER = process.env.REVELA_BENCH_RETRIEVER;
if (!existsSync(SCIFACT) || !RETRIEVER) {
  process.stderr.write(
    `scifact bench: needs ${SCIFACT} and REVELA_BENCH_RETRIEVER=<saved retriever folder>; skipped\n`,
  );
  process.exit(0);
}
const K = 1000;
await initBackend();
const retriever = await loadRetriever(RETRIEVER);
const d = retriever.dimensions;
const dataset = await loadBeirDataset(SCIFACT, { split: "test" });
const textOf = (doc: BeirDocument) => (doc.title?.trim() ? `${doc.title.trim()} ${doc.text}` : doc.text);
const corpus = [...dataset.corpus.values()].filter((doc) => textOf(doc).trim() !== "");
const queryIds = [...dataset.queries.keys()];
const params = { documents: corpus.length, queries: queryIds.length, dimensions: d, k: K, retriever: RETRIEVER };

let t0 = performance.now();
const passages = await retriever.encodePassages(corpus.map(textOf), { batchSize: 32 });
const encodeS = (performance.now() - t0) / 1000;
const queries = await retriever.encodeQueries(
  queryIds.map((id) => dataset.queries.get(id) as string),
  { batchSize: 32 },
);
const row = (m: { data: Float32Array }, i: number) => m.data.subarray(i * d, (i + 1) * d);
emit({
  bench: "vector-store/scifact-index",
  case: "scifact",
  impl: "encode",
  metric: "throughput",
  value: corpus.length / encodeS,
  unit: "docs/s",
  params,
});

const store = await VectorStore.open(MEMORY_LOCATION);
const collection = await store.collection("scifact", { retriever: retrieverIdentity(retriever, "bench") });
t0 = performance.now();
for (let start = 0; start < corpus.length; start += 512) {
  const end = Math.min(corpus.length, start + 512);
  await collection.upsert(
    corpus.slice(start, end).map((doc, i) => ({ id: doc.id, text: textOf(doc), vector: row(passages, start + i) })),
  );
}
const upsertS = (performance.now() - t0) / 1000;
emit({
  bench: "vector-store/scifact-index",
  case: "scifact",
  impl: "pglite",
  metric: "throughput",
  value: corpus.length / upsertS,
  unit: "rows/s",
  params,
});

const measures = { k: [10], measures: ["ndcg"] as "ndcg"[] };
const ndcg = (run: Run) => evaluateRun(run, dataset.qrels, measures).mean["NDCG@10"] as number;
const byDoc = new Map(corpus.map((doc, i) => [doc.id, row(passages, i)]));
t0 = performance.now();
const inProcess = await denseRetrieve(
  {
    encodeQueries: () => queryIds.map((_, q) => row(queries, q)),
    encodeDocuments: (docs) => docs.map((doc) => byDoc.get(doc.id) as Float32Array),
  },
  corpus,
  dataset.queries,
  // One call for all queries: the vectors above are already in query order.
  { k: K, queryBatchSize: queryIds.length },
);
const inProcessQps = queryIds.length / ((performance.now() - t0) / 1000);
const inProcessNdcg = ndcg(inProcess);
emit({
  bench: "vector-store/scifact-search",
  case: "exact",
  impl: "in-process",
  metric: "qps",
  value: inProcessQps,
  unit: "queries/s",
  params,
});
emit({
  bench: "vector-store/scifact-search",
  case: "exact",
  impl: "in-process",
  metric: "ndcg@10",
  value: inProcessNdcg,
  unit: "",
  params,
});

async function throughDb(
  options: { exact: boolean; efSearch?: number },
  k: number,
): Promise<{ qps: number; run: Run }> {
  const run: Run = new Map();
  const times: number[] = [];
  for (const [q, id] of queryIds.entries()) {
    const s = performance.now();
    const hits = await collection.search(row(queries, q), { k, ...options });
    times.push(performance.now() - s);
    run.set(
      id,
      hits.map((h) => ({ docId: h.id, score: h.score })),
    );
  }
  return { qps: 1000 / median(times), run };
}
const exact = await throughDb({ exact: true }, K);
emit({
  bench: "vector-store/scifact-search",
  case: "exact",
  impl: "pglite",
  metric: "qps",
  value: exact.qps,
  unit: "queries/s",
  params,
});
emit({
  bench: "vector-store/scifact-search",
  case: "exact",
  impl: "pglite",
  metric: "ndcg@10",
  value: ndcg(exact.run),
  unit: "",
  params,
});
emit({
  bench: "vector-store/scifact-search",
  case: "exact",
  impl: "pglite",
  metric: "ndcg@10-difference",
  value: ndcg(exact.run) - inProcessNdcg,
  unit: "",
  baseline: "in-process",
  params,
});

t0 = performance.now();
await collection.createHnswIndex({ m: 16, efConstruction: 64 });
emit({
  bench: "vector-store/scifact-index",
  case: "hnsw-build",
  impl: "pglite",
  metric: "seconds",
  value: (performance.now() - t0) / 1000,
  unit: "s",
  params,
});
const hnsw = await throughDb({ exact: false, efSearch: 100 }, 100);
const hnswParams = { ...params, k: 100, m: 16, efConstruction: 64, efSearch: 100 };
emit({
  bench: "vector-store/scifact-search",
  case: "hnsw",
  impl: "pglite",
  metric: "qps",
  value: hnsw.qps,
  unit: "queries/s",
  params: hnswParams,
});
emit({
  bench: "vector-store/scifact-search",
  case: "hnsw",
  impl: "pglite",
  metric: "ndcg@10",
  value: ndcg(hnsw.run),
  unit: "",
  params: hnswParams,
});
const native = new Index({
  dimensions: d,
  metric: "ip" as never,
  connectivity: 16,
  expansion_add: 64,
  expansion_search: 100,
} as never);
native.add(
  BigUint64Array.from(corpus, (_, i) => BigInt(i)),
  passages.data,
  1,
);
const nativeRun: Run = new Map();
const nativeTimes: number[] = [];
for (const [q, id] of queryIds.entries()) {
  const s = performance.now();
  const result = native.search(row(queries, q), 100, 1) as unknown as { keys: BigUint64Array; distances: Float32Array };
  nativeTimes.push(performance.now() - s);
  nativeRun.set(
    id,
    Array.from(result.keys, (key, j) => ({
      docId: (corpus[Number(key)] as BeirDocument).id,
      score: 1 - (result.distances[j] as number),
    })),
  );
}
emit({
  bench: "vector-store/scifact-search",
  case: "hnsw",
  impl: "usearch",
  metric: "qps",
  value: 1000 / median(nativeTimes),
  unit: "queries/s",
  params: hnswParams,
});
emit({
  bench: "vector-store/scifact-search",
  case: "hnsw",
  impl: "usearch",
  metric: "ndcg@10",
  value: ndcg(nativeRun),
  unit: "",
  params: hnswParams,
});
await store.close();
retriever.dispose();
