import { type Bm25Engine, createBm25Engine, englishAnalyzer } from "@revela/text-data";
import type { BeirDocument } from "./beirDataset.js";
import { documentList } from "./documentList.js";
import { checkQueries, type RetrieveOptions } from "./retrieveOptions.js";
import type { Hit, Run } from "./run.js";
import { compareTrecOrder } from "./trecOrder.js";

export interface Bm25Options {
  /** Term-frequency saturation; default 0.9 (Pyserini's BEIR setting). */
  k1?: number;
  /** Length normalisation, 0–1; default 0.4 (Pyserini's BEIR setting). */
  b?: number;
  /** Text → tokens, used for documents and queries alike; default `englishAnalyzer()`. */
  analyzer?: (text: string) => string[];
  /** Called every 1000 documents while indexing and once at the end. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

/**
 * BM25 over title + text through wink-bm25-text-search. Title and text are two fields of weight 1,
 * which wink sums into one bag of words and one length — the same as Pyserini's "flat" BEIR index,
 * where title and text are one field. Scores are
 * idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·len/avgLen)), idf(t) = ln(1 + (N − n + 0.5)/(n + 0.5)),
 * which ranks as Lucene's BM25 does (Lucene drops the constant k1+1 and stores lengths lossily).
 */
export class Bm25Index {
  readonly k1: number;
  readonly b: number;
  readonly size: number;
  private readonly engine: Bm25Engine;

  private constructor(engine: Bm25Engine, k1: number, b: number, size: number) {
    this.engine = engine;
    this.k1 = k1;
    this.b = b;
    this.size = size;
  }

  static build(corpus: Iterable<BeirDocument> | Map<string, BeirDocument>, options: Bm25Options = {}): Bm25Index {
    const k1 = options.k1 ?? 0.9;
    const b = options.b ?? 0.4;
    // wink silently replaces out-of-range parameters with its own defaults (1.2, 0.75): refuse instead.
    if (!Number.isFinite(k1) || k1 < 0) throw new Error(`Bm25Index.build: k1 must be a finite number ≥ 0, got ${k1}`);
    if (!Number.isFinite(b) || b < 0 || b > 1) throw new Error(`Bm25Index.build: b must be in [0, 1], got ${b}`);
    const docs = documentList(corpus);
    // wink's consolidate() refuses fewer than three documents.
    if (docs.length < 3) throw new Error(`Bm25Index.build: need at least 3 documents, got ${docs.length}`);

    const engine = createBm25Engine();
    engine.defineConfig({ fldWeights: { title: 1, text: 1 }, bm25Params: { k1, b, k: 1 } });
    engine.definePrepTasks([options.analyzer ?? englishAnalyzer()]);
    let done = 0;
    for (const doc of docs) {
      if (typeof doc.id !== "string" || doc.id === "") {
        throw new Error(`Bm25Index.build: document #${done} has no string id`);
      }
      engine.addDoc({ title: doc.title ?? "", text: doc.text }, doc.id);
      done++;
      if (done % 1000 === 0) options.onProgress?.({ done, total: docs.length });
    }
    // 9 decimals (wink's maximum) for the stored term weights: fewer creates artificial score ties.
    engine.consolidate(9);
    options.onProgress?.({ done, total: docs.length });
    return new Bm25Index(engine, k1, b, docs.length);
  }

  /** The top `k` documents for `query`, in trec_eval order (ties by descending id). */
  search(query: string, k = 1000): Hit[] {
    if (!Number.isInteger(k) || k < 1) throw new Error(`Bm25Index.search: k must be a positive integer, got ${k}`);
    // wink sorts every match but breaks ties by insertion order; ask for all and re-rank as trec_eval would.
    const hits = this.engine.search(query, this.size).map(([docId, score]) => ({ docId, score }));
    hits.sort(compareTrecOrder);
    return hits.length > k ? hits.slice(0, k) : hits;
  }

  /** A run over many queries. */
  retrieve(queries: Map<string, string>, options: RetrieveOptions = {}): Run {
    const k = options.k ?? 1000;
    checkQueries(queries, "Bm25Index.retrieve");
    const run: Run = new Map();
    let done = 0;
    for (const [queryId, text] of queries) {
      let hits = this.search(text, options.ignoreIdenticalIds ? k + 1 : k);
      if (options.ignoreIdenticalIds) hits = hits.filter((h) => h.docId !== queryId).slice(0, k);
      run.set(queryId, hits);
      done++;
      if (done % 100 === 0 || done === queries.size)
        options.onProgress?.({ phase: "queries", done, total: queries.size });
    }
    return run;
  }
}
