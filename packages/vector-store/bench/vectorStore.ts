import { emit, median } from "@revela/bench";
import { Index } from "usearch";
import { MEMORY_LOCATION, type PgliteClient, PostgresClient, VectorStore } from "../src/index.js";
import { startTestServer } from "../test/support/socketServer.js";

/**
 * The figures, each against the in-process usearch index measured in this run on the same
 * vectors: index throughput (rows/s), exact search through the database (queries/s, recall@10 = 1),
 * HNSW build time and HNSW search (queries/s, recall@10 against the exact top 10) at two ef values,
 * on N synthetic clustered unit vectors (default 100k × 256; REVELA_BENCH_VECTORS / _DIMS to change),
 * and exact search through the wire protocol (pg over pglite-socket on 127.0.0.1).
 */

const N = Number(process.env.REVELA_BENCH_VECTORS ?? 100_000);
const D = Number(process.env.REVELA_BENCH_DIMS ?? 256);
const QUERIES = Number(process.env.REVELA_BENCH_QUERIES ?? 50);
const K = 10;
const M = 16;
const EF_CONSTRUCTION = 64;
const params = { vectors: N, dimensions: D, queries: QUERIES, k: K };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n unit vectors around 1000 random centres: embeddings of text have topics, i.i.d. vectors have none. */
function clustered(n: number, seed: number): Float32Array {
  const random = rng(seed);
  const centres = rng(7);
  const normal = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const centre = Float32Array.from({ length: 1000 * D }, () => normal(centres));
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(random() * 1000);
    let norm = 0;
    for (let d = 0; d < D; d++) {
      const v = (centre[c * D + d] as number) + normal(random);
      out[i * D + d] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < D; d++) out[i * D + d] = (out[i * D + d] as number) / norm;
  }
  return out;
}

const row = (m: Float32Array, i: number) => m.subarray(i * D, (i + 1) * D);
const corpus = clustered(N, 1);
const queries = clustered(QUERIES, 2);
const ids = Array.from({ length: N }, (_, i) => `v${i}`);

// Ground truth: float64 brute force.
const truth: Set<string>[] = [];
for (let q = 0; q < QUERIES; q++) {
  const query = row(queries, q);
  const scores = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let dot = 0;
    for (let d = 0; d < D; d++) dot += (query[d] as number) * (corpus[i * D + d] as number);
    scores[i] = dot;
  }
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  truth.push(new Set(order.slice(0, K).map((i) => ids[i] as string)));
}
const recall = (found: string[][]) =>
  found.reduce((s, hits, q) => s + hits.filter((id) => truth[q]?.has(id)).length, 0) / (K * QUERIES);

/** Per-query milliseconds (median) and results. */
async function timeQueries(
  search: (q: number) => Promise<string[]> | string[],
): Promise<{ ms: number; found: string[][] }> {
  await search(0);
  const times: number[] = [];
  const found: string[][] = [];
  for (let q = 0; q < QUERIES; q++) {
    const t0 = performance.now();
    found.push(await search(q));
    times.push(performance.now() - t0);
  }
  return { ms: median(times), found };
}

/** A timed search's two figures: queries/s (from the median query) and recall@10 against the exact top 10. */
function emitSearch(
  bench: string,
  caseName: string,
  impl: string,
  timed: { ms: number; found: string[][] },
  p: Record<string, unknown>,
): void {
  emit({ bench, case: caseName, impl, metric: "qps", value: 1000 / timed.ms, unit: "queries/s", params: p });
  emit({ bench, case: caseName, impl, metric: "recall@10", value: recall(timed.found), unit: "", params: p });
}

// ---------- index throughput ----------
const identity = { id: "bench", hash: `${"0".repeat(63)}1`, dimensions: D };
const store = await VectorStore.open(MEMORY_LOCATION);
const collection = await store.collection("bench", { retriever: identity });
const BATCH = 1000;
let t0 = performance.now();
for (let start = 0; start < N; start += BATCH) {
  const docs = [];
  for (let i = start; i < Math.min(N, start + BATCH); i++)
    docs.push({ id: ids[i] as string, text: `document ${i}`, vector: row(corpus, i) });
  await collection.upsert(docs);
}
const pgliteRowsPerS = N / ((performance.now() - t0) / 1000);
emit({
  bench: "vector-store/index",
  case: `${N}x${D}`,
  impl: "pglite",
  metric: "throughput",
  value: pgliteRowsPerS,
  unit: "rows/s",
  params: { ...params, rowsPerTransaction: BATCH },
});

const usearch = new Index({
  dimensions: D,
  metric: "ip" as never,
  connectivity: M,
  expansion_add: EF_CONSTRUCTION,
  expansion_search: 100,
} as never);
t0 = performance.now();
const keys = BigUint64Array.from({ length: N }, (_, i) => BigInt(i));
usearch.add(keys, corpus, 1);
const usearchBuildS = (performance.now() - t0) / 1000;
emit({
  bench: "vector-store/index",
  case: `${N}x${D}`,
  impl: "usearch",
  metric: "throughput",
  value: N / usearchBuildS,
  unit: "rows/s",
  params: { ...params, m: M, efConstruction: EF_CONSTRUCTION, threads: 1, note: "builds the HNSW graph while adding" },
});
emit({
  bench: "vector-store/index",
  case: `${N}x${D}`,
  impl: "pglite",
  metric: "ratio",
  value: pgliteRowsPerS / (N / usearchBuildS),
  unit: "x",
  baseline: "usearch",
  params,
});

// ---------- exact search ----------
const exact = await timeQueries(async (q) =>
  (await collection.search(row(queries, q), { k: K, exact: true })).map((h) => h.id),
);
emitSearch("vector-store/exact-search", `${N}x${D}`, "pglite", exact, params);
// usearch's exhaustive mode is its exactSearch over the raw matrix.
const { exactSearch } = await import("usearch");
const usearchScan = await timeQueries((q) => {
  const result = exactSearch(corpus, row(queries, q), D, K, "ip" as never) as unknown as { keys: BigUint64Array };
  return Array.from(result.keys, (key) => ids[Number(key)] as string);
});
emit({
  bench: "vector-store/exact-search",
  case: `${N}x${D}`,
  impl: "usearch-exact",
  metric: "qps",
  value: 1000 / usearchScan.ms,
  unit: "queries/s",
  params,
});
emit({
  bench: "vector-store/exact-search",
  case: `${N}x${D}`,
  impl: "pglite",
  metric: "ratio",
  value: usearchScan.ms / exact.ms,
  unit: "x",
  baseline: "usearch-exact",
  params,
});

// ---------- the same exact search through the wire protocol ----------
{
  const served = await startTestServer({ db: (store.client as PgliteClient).db });
  const remote = await VectorStore.fromClient(new PostgresClient(served.url, { max: 1 }));
  const over = await remote.collection("bench", { retriever: identity, create: false });
  const wire = await timeQueries(async (q) =>
    (await over.search(row(queries, q), { k: K, exact: true })).map((h) => h.id),
  );
  emitSearch("vector-store/exact-search", `${N}x${D}`, "pg-over-pglite-socket", wire, params);
  await remote.close();
  await served.server.stop();
}

// ---------- HNSW ----------
t0 = performance.now();
await collection.createHnswIndex({ m: M, efConstruction: EF_CONSTRUCTION });
const hnswBuildS = (performance.now() - t0) / 1000;
emit({
  bench: "vector-store/hnsw-build",
  case: `${N}x${D}`,
  impl: "pglite",
  metric: "seconds",
  value: hnswBuildS,
  unit: "s",
  params: { ...params, m: M, efConstruction: EF_CONSTRUCTION },
});
emit({
  bench: "vector-store/hnsw-build",
  case: `${N}x${D}`,
  impl: "usearch",
  metric: "seconds",
  value: usearchBuildS,
  unit: "s",
  params: { ...params, m: M, efConstruction: EF_CONSTRUCTION, threads: 1 },
});
emit({
  bench: "vector-store/hnsw-build",
  case: `${N}x${D}`,
  impl: "pglite",
  metric: "ratio",
  value: hnswBuildS / usearchBuildS,
  unit: "x",
  baseline: "usearch",
  params,
});
for (const ef of [40, 100]) {
  const db = await timeQueries(async (q) =>
    (await collection.search(row(queries, q), { k: K, exact: false, efSearch: ef })).map((h) => h.id),
  );
  const native = new Index({
    dimensions: D,
    metric: "ip" as never,
    connectivity: M,
    expansion_add: EF_CONSTRUCTION,
    expansion_search: ef,
  } as never);
  native.add(keys, corpus, 1);
  const ann = await timeQueries((q) => {
    const result = native.search(row(queries, q), K, 1) as unknown as { keys: BigUint64Array };
    return Array.from(result.keys, (key) => ids[Number(key)] as string);
  });
  const p = { ...params, m: M, efConstruction: EF_CONSTRUCTION, efSearch: ef };
  emitSearch("vector-store/hnsw-search", `ef${ef}`, "pglite", db, p);
  emitSearch("vector-store/hnsw-search", `ef${ef}`, "usearch", ann, p);
  emit({
    bench: "vector-store/hnsw-search",
    case: `ef${ef}`,
    impl: "pglite",
    metric: "ratio",
    value: ann.ms / db.ms,
    unit: "x",
    baseline: "usearch",
    params: p,
  });
}
await store.close();
