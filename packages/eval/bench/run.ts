import path from "node:path";
import { fileURLToPath } from "node:url";
import { emit, timeMedian } from "@revela/bench";
import {
  Bm25Index,
  denseRetrieve,
  type Encoder,
  evaluateRun,
  type Hit,
  loadBeirDataset,
  type Qrels,
  type Run,
} from "../src/index.js";

/**
 * Benchmarks of @revela/eval: BM25 indexing and query throughput on SciFact (with the nDCG@10 it
 * reaches), metric computation for 10k queries × 1000 results, and exact dense search at SciFact's
 * shape. Prints JSON lines (DESIGN.md); times are medians after a warm-up.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const scifact = path.resolve(here, "../../..", "../shared/data/scifact");

/** A small deterministic generator, so every run measures the same synthetic data. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

async function bm25(): Promise<void> {
  const ds = await loadBeirDataset(scifact);
  const docs = [...ds.corpus.values()];
  let index = Bm25Index.build(docs);
  const buildMs = await timeMedian(
    () => {
      index = Bm25Index.build(docs);
    },
    1,
    3,
  );
  const params = { dataset: "scifact", documents: docs.length, k1: 0.9, b: 0.4, fields: "title+text" };
  emit({
    bench: "eval/bm25",
    case: "scifact-index",
    impl: "wink-bm25-text-search",
    metric: "ms",
    value: round(buildMs),
    unit: "ms",
    params,
  });
  emit({
    bench: "eval/bm25",
    case: "scifact-index",
    impl: "wink-bm25-text-search",
    metric: "throughput",
    value: round(docs.length / (buildMs / 1000)),
    unit: "docs/s",
    params,
  });

  let run: Run = new Map();
  const queryMs = await timeMedian(
    () => {
      run = index.retrieve(ds.queries, { k: 1000 });
    },
    1,
    3,
  );
  const qparams = { ...params, queries: ds.queries.size, k: 1000 };
  emit({
    bench: "eval/bm25",
    case: "scifact-test-queries",
    impl: "wink-bm25-text-search",
    metric: "throughput",
    value: round(ds.queries.size / (queryMs / 1000)),
    unit: "queries/s",
    params: qparams,
  });
  const ndcg = evaluateRun(run, ds.qrels, { k: [10] }).mean["NDCG@10"] as number;
  emit({
    bench: "eval/bm25",
    case: "scifact-test-quality",
    impl: "wink-bm25-text-search",
    metric: "ndcg@10",
    value: Number(ndcg.toFixed(4)),
    unit: "nDCG@10",
    params: { ...qparams, pyserini: { flat: 0.679, multifield: 0.665 } },
  });
}

async function metrics(): Promise<void> {
  const [numQueries, depth, numDocs] = [10_000, 1000, 100_000];
  const random = lcg(7);
  const docIds = Array.from({ length: numDocs }, (_, i) => `doc${i}`);
  const run: Run = new Map();
  const qrels: Qrels = new Map();
  for (let q = 0; q < numQueries; q++) {
    const hits: Hit[] = [];
    const used = new Set<number>();
    let score = 100;
    while (hits.length < depth) {
      const d = Math.floor(random() * numDocs);
      if (used.has(d)) continue;
      used.add(d);
      score -= random() * 0.1;
      hits.push({ docId: docIds[d] as string, score: Math.round(score * 100) / 100 });
    }
    hits.sort((a, b) => b.score - a.score || (a.docId < b.docId ? 1 : -1));
    run.set(`q${q}`, hits);
    const judged = new Map<string, number>();
    for (let j = 0; j < 5; j++)
      judged.set((hits[Math.floor(random() * depth * 2)]?.docId ?? docIds[j]) as string, 1 + (j % 3));
    qrels.set(`q${q}`, judged);
  }
  const params = {
    queries: numQueries,
    depth,
    cutoffs: [1, 3, 5, 10, 100, 1000],
    measures: ["ndcg", "map", "recall", "precision", "mrr"],
  };
  const sortedMs = await timeMedian(() => evaluateRun(run, qrels), 1, 3);
  emit({
    bench: "eval/metrics",
    case: "10k-queries-x-1000",
    impl: "revela",
    metric: "ms",
    value: round(sortedMs),
    unit: "ms",
    params: { ...params, input: "in trec_eval order" },
  });
  emit({
    bench: "eval/metrics",
    case: "10k-queries-x-1000",
    impl: "revela",
    metric: "throughput",
    value: round(numQueries / (sortedMs / 1000)),
    unit: "queries/s",
    params: { ...params, input: "in trec_eval order" },
  });
  const shuffled: Run = new Map(
    [...run].map(([q, hits]) => {
      const copy = [...hits];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [copy[i], copy[j]] = [copy[j] as Hit, copy[i] as Hit];
      }
      return [q, copy];
    }),
  );
  const shuffledMs = await timeMedian(() => evaluateRun(shuffled, qrels), 1, 3);
  emit({
    bench: "eval/metrics",
    case: "10k-queries-x-1000-unsorted",
    impl: "revela",
    metric: "ms",
    value: round(shuffledMs),
    unit: "ms",
    params: { ...params, input: "shuffled (every list sorted here)" },
  });
}

async function dense(): Promise<void> {
  const [numQueries, numDocs, dim] = [300, 5183, 256];
  const random = lcg(11);
  const vector = () => Float32Array.from({ length: dim }, () => random() - 0.5);
  const queryVectors = Array.from({ length: numQueries }, vector);
  const docVectors = Array.from({ length: numDocs }, vector);
  const index = new Map<string, number>(docVectors.map((_, i) => [`d${i}`, i]));
  const encoder: Encoder = {
    encodeQueries: (texts) => texts.map((t) => queryVectors[Number(t)] as Float32Array),
    encodeDocuments: (docs) => docs.map((d) => docVectors[index.get(d.id) as number] as Float32Array),
  };
  const corpus = [...index.keys()].map((id) => ({ id, title: "", text: "" }));
  const queries = new Map(queryVectors.map((_, i) => [`q${i}`, String(i)]));
  const ms = await timeMedian(() => denseRetrieve(encoder, corpus, queries, { k: 1000 }), 1, 3);
  const params = { queries: numQueries, documents: numDocs, dim, k: 1000, chunkSize: 1024 };
  emit({
    bench: "eval/dense",
    case: "exact-300x5183x256",
    impl: "revela",
    metric: "ms",
    value: round(ms),
    unit: "ms",
    params,
  });
  emit({
    bench: "eval/dense",
    case: "exact-300x5183x256",
    impl: "revela",
    metric: "gflops",
    value: Number(((2 * numQueries * numDocs * dim) / (ms / 1000) / 1e9).toFixed(2)),
    unit: "GFLOP/s",
    params,
  });
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}

const only = process.argv[2];
if (!only || only === "bm25") await bm25();
if (!only || only === "metrics") await metrics();
if (!only || only === "dense") await dense();
