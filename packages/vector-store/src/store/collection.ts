import { compareTrecOrder, type Hit, type Run, reciprocalRankFusion } from "@revela/eval";
import type { SqlClient, SqlQuery } from "../sql/sqlClient.js";
import { ambiguousPositions, exactScore, l2Norm, type RankedRow, scoreErrorBound } from "./exactScores.js";
import { type Metric, metricSql } from "./metric.js";
import type { RetrieverIdentity } from "./retrieverIdentity.js";
import { checkDocuments, type StoredDocument } from "./storedDocument.js";
import { vectorFromSql, vectorToSql } from "./vectorText.js";

/** One search result, best first. `text` and `metadata` only when asked for (`withText`). */
export interface VectorHit {
  id: string;
  score: number;
  text?: string;
  metadata?: Record<string, unknown>;
}

export interface SearchOptions {
  /** Hits to return (default 10). */
  k?: number;
  /** Only documents whose metadata contains this JSON object (PostgreSQL `@>`). */
  filter?: Record<string, unknown>;
  /**
   * true: scan every row (exact); false: use the HNSW index. Default: the index when one exists,
   * else exact. Exact results equal an in-process float64 exact search's, ties included.
   */
  exact?: boolean;
  /** HNSW candidate list size (pgvector `hnsw.ef_search`, default 100); raised to k when smaller. */
  efSearch?: number;
  /** Also return each hit's text and metadata. */
  withText?: boolean;
}

export interface HybridOptions extends SearchOptions {
  /** Hits taken from each of the dense and keyword rankings before fusion (default max(100, k)). */
  candidates?: number;
  /** RRF constant (default 60). */
  rrfK?: number;
  /** Weights of [dense, keyword] in the fusion (default [1, 1]). */
  weights?: [number, number];
}

export interface HnswOptions {
  /** Neighbours per node (pgvector `m`, default 16). */
  m?: number;
  /** Candidate list while building (pgvector `ef_construction`, default 64). */
  efConstruction?: number;
}

export interface UpsertOptions {
  /** Rows per INSERT statement inside the one transaction (default 500). */
  rowsPerStatement?: number;
  /** Called after each statement with the rows written so far (not yet committed). */
  onProgress?: (progress: { done: number; total: number }) => void | Promise<void>;
}

/** Rows fetched beyond k so that a near-tie at the k-th place can be resolved. */
const TAIL_ROWS = 16;

/**
 * One collection: a table of (id, text, metadata, vector, norm, tsvector) for the vectors of one
 * retriever. Obtained from `VectorStore.collection`, which has checked that the retriever matches.
 */
export class Collection {
  private readonly sql: ReturnType<typeof metricSql>;

  constructor(
    private readonly client: SqlClient,
    readonly name: string,
    readonly table: string,
    readonly dimensions: number,
    readonly metric: Metric,
    readonly retriever: RetrieverIdentity,
  ) {
    this.sql = metricSql(metric);
  }

  /** Documents held. */
  async count(): Promise<number> {
    const rows = await this.client.query<{ n: number | string }>(`SELECT count(*)::int AS n FROM ${this.table}`);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Inserts or replaces documents, all in one transaction: on any error (bad row, lost connection)
   * nothing of the call is written. Input is checked before anything is sent.
   */
  async upsert(documents: readonly StoredDocument[], options: UpsertOptions = {}): Promise<void> {
    const op = `Collection(${this.name}).upsert`;
    checkDocuments(op, documents, this.dimensions);
    const perStatement = options.rowsPerStatement ?? 500;
    if (!Number.isSafeInteger(perStatement) || perStatement < 1) {
      throw new Error(`${op}: options.rowsPerStatement must be a positive integer, got ${perStatement}`);
    }
    if (documents.length === 0) return;
    await this.client.transaction(async (tx) => {
      for (let start = 0; start < documents.length; start += perStatement) {
        const batch = documents.slice(start, start + perStatement);
        await tx.query(
          `INSERT INTO ${this.table} (id, text, metadata, embedding, norm)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::jsonb[], $4::text[]::vector[], $5::float8[])
           ON CONFLICT (id) DO UPDATE SET text = EXCLUDED.text, metadata = EXCLUDED.metadata,
             embedding = EXCLUDED.embedding, norm = EXCLUDED.norm`,
          [
            batch.map((d) => d.id),
            batch.map((d) => d.text),
            batch.map((d) => JSON.stringify(d.metadata ?? {})),
            batch.map((d) => vectorToSql(d.vector)),
            batch.map((d) => l2Norm(d.vector)),
          ],
        );
        await options.onProgress?.({ done: start + batch.length, total: documents.length });
      }
    });
  }

  /** Removes documents by id (unknown ids are ignored); returns how many were removed. */
  async delete(ids: readonly string[]): Promise<number> {
    checkIdList(`Collection(${this.name}).delete`, ids);
    if (ids.length === 0) return 0;
    const rows = await this.client.query<{ id: string }>(
      `DELETE FROM ${this.table} WHERE id = ANY($1::text[]) RETURNING id`,
      [[...ids]],
    );
    return rows.length;
  }

  /** Which of `ids` the collection holds (for resuming an interrupted indexing run). */
  async existingIds(ids: readonly string[]): Promise<Set<string>> {
    checkIdList(`Collection(${this.name}).existingIds`, ids);
    if (ids.length === 0) return new Set();
    const rows = await this.client.query<{ id: string }>(`SELECT id FROM ${this.table} WHERE id = ANY($1::text[])`, [
      [...ids],
    ]);
    return new Set(rows.map((r) => r.id));
  }

  /** Builds the HNSW index (replacing one with other parameters); searches then use it by default. */
  async createHnswIndex(options: HnswOptions = {}): Promise<void> {
    const op = `Collection(${this.name}).createHnswIndex`;
    const m = options.m ?? 16;
    const ef = options.efConstruction ?? 64;
    if (!Number.isSafeInteger(m) || m < 2 || m > 100)
      throw new Error(`${op}: m must be an integer in [2, 100], got ${m}`);
    if (!Number.isSafeInteger(ef) || ef < 4 || ef > 1000 || ef < 2 * m) {
      throw new Error(`${op}: efConstruction must be an integer in [max(4, 2·m), 1000], got ${ef} (m ${m})`);
    }
    if (this.dimensions > 2000) {
      throw new Error(
        `${op}: pgvector's HNSW indexes vectors of at most 2000 dimensions; this collection has ${this.dimensions}`,
      );
    }
    await this.client.transaction(async (tx) => {
      await tx.query(`DROP INDEX IF EXISTS ${this.table}_hnsw`);
      await tx.query(
        `CREATE INDEX ${this.table}_hnsw ON ${this.table} USING hnsw (embedding ${this.sql.opclass}) WITH (m = ${m}, ef_construction = ${ef})`,
      );
    });
  }

  async dropHnswIndex(): Promise<void> {
    await this.client.query(`DROP INDEX IF EXISTS ${this.table}_hnsw`);
  }

  /** The HNSW index's parameters, or null when there is none. */
  async hnswIndex(): Promise<{ m: number; efConstruction: number } | null> {
    const rows = await this.client.query<{ def: string }>(
      "SELECT indexdef AS def FROM pg_indexes WHERE tablename = $1 AND indexname = $2",
      [this.table, `${this.table}_hnsw`],
    );
    const def = rows[0]?.def;
    if (def === undefined) return null;
    const m = /m='?(\d+)/.exec(def)?.[1];
    const ef = /ef_construction='?(\d+)/.exec(def)?.[1];
    return { m: Number(m ?? 16), efConstruction: Number(ef ?? 64) };
  }

  /** Top-k documents for one query vector (see SearchOptions). */
  async search(query: ArrayLike<number>, options: SearchOptions = {}): Promise<VectorHit[]> {
    const op = `Collection(${this.name}).search`;
    const q = this.checkQuery(op, query);
    const { k, filter, efSearch } = checkSearchOptions(op, options);
    const exact = options.exact ?? (await this.hnswIndex()) === null;
    const queryNorm = l2Norm(q);
    const qText = vectorToSql(q);
    let limit = k + TAIL_ROWS;
    for (;;) {
      const rows = await this.rankedRows(qText, limit, filter, exact, efSearch);
      const bounds = rows.map((r) => scoreErrorBound(this.metric, this.dimensions, queryNorm, r.norm));
      const { positions, tailOpen } = ambiguousPositions(rows, bounds);
      // A near-tie that reaches the last fetched row at or past the k-th: what lies beyond may belong in.
      if (tailOpen && rows.length === limit) {
        limit *= 2;
        continue;
      }
      if (positions.length > 0) await this.rescore(rows, positions, q);
      const hits: Hit[] = rows.map((r) => ({ docId: r.id, score: r.score }));
      hits.sort(compareTrecOrder);
      const top = hits.slice(0, k).map((h): VectorHit => ({ id: h.docId, score: h.score }));
      return options.withText ? this.attachText(top) : top;
    }
  }

  /**
   * Top-k by keyword: PostgreSQL full-text search (English stemming and stopwords), any query term
   * may match, ranked by `ts_rank_cd` (cover density). Ties by id, for a stable order.
   */
  async keywordSearch(
    text: string,
    options: Pick<SearchOptions, "k" | "filter" | "withText"> = {},
  ): Promise<VectorHit[]> {
    const op = `Collection(${this.name}).keywordSearch`;
    if (typeof text !== "string" || text.trim() === "") throw new Error(`${op}: text must be a non-empty string`);
    const { k, filter } = checkSearchOptions(op, options);
    // plainto_tsquery ANDs the terms; a natural-language query needs any of them (OR), as BM25 does.
    const rows = await this.client.query<{ id: string; score: number }>(
      `SELECT id, ts_rank_cd(tsv, q)::float8 AS score
       FROM ${this.table}, (SELECT replace(plainto_tsquery('english', $1)::text, ' & ', ' | ')::tsquery AS q) AS query
       WHERE tsv @@ q ${filter ? "AND metadata @> $3::jsonb" : ""}
       ORDER BY score DESC, id LIMIT $2`,
      filter ? [text, k, JSON.stringify(filter)] : [text, k],
    );
    const hits = rows.map((r) => ({ id: r.id, score: Number(r.score) }));
    return options.withText ? this.attachText(hits) : hits;
  }

  /**
   * Dense and keyword rankings fused by reciprocal rank (RRF, as @revela/eval computes it): each
   * ranking contributes weight / (rrfK + rank). Scores of the result are the fused scores.
   */
  async hybridSearch(text: string, query: ArrayLike<number>, options: HybridOptions = {}): Promise<VectorHit[]> {
    const op = `Collection(${this.name}).hybridSearch`;
    const { k } = checkSearchOptions(op, options);
    const candidates = options.candidates ?? Math.max(100, k);
    if (!Number.isSafeInteger(candidates) || candidates < 1) {
      throw new Error(`${op}: options.candidates must be a positive integer, got ${candidates}`);
    }
    const inner = { ...options, k: candidates, withText: false };
    const dense = await this.search(query, inner);
    const keyword = await this.keywordSearch(text, inner);
    const asRun = (hits: VectorHit[]): Run => new Map([["q", hits.map((h) => ({ docId: h.id, score: h.score }))]]);
    const fused = reciprocalRankFusion([asRun(dense), asRun(keyword)], {
      k,
      ...(options.rrfK !== undefined ? { rrfK: options.rrfK } : {}),
      ...(options.weights !== undefined ? { weights: options.weights } : {}),
    });
    const hits = (fused.get("q") ?? []).map((h) => ({ id: h.docId, score: h.score }));
    return options.withText ? this.attachText(hits) : hits;
  }

  private checkQuery(op: string, query: ArrayLike<number>): Float32Array {
    if (typeof query !== "object" || query === null || typeof query.length !== "number") {
      throw new Error(`${op}: query must be a Float32Array or an array of numbers`);
    }
    if (query.length !== this.dimensions) {
      throw new Error(
        `${op}: query has ${query.length} dimensions, but the collection holds ${this.dimensions}-dimensional vectors`,
      );
    }
    for (let d = 0; d < query.length; d++) {
      if (!Number.isFinite(query[d])) throw new Error(`${op}: query[${d}] is ${query[d]}; values must be finite`);
    }
    return Float32Array.from(query);
  }

  /** The database's own ranking: ids, pgvector scores and stored norms, best first. */
  private async rankedRows(
    qText: string,
    limit: number,
    filter: Record<string, unknown> | undefined,
    exact: boolean,
    efSearch: number,
  ): Promise<RankedRow[]> {
    const sql = `SELECT id, (embedding ${this.sql.operator} $1::vector)::float8 AS distance, norm
      FROM ${this.table} ${filter ? "WHERE metadata @> $3::jsonb" : ""}
      ORDER BY embedding ${this.sql.operator} $1::vector LIMIT $2`;
    const params = filter ? [qText, limit, JSON.stringify(filter)] : [qText, limit];
    const run = async (tx: SqlQuery) => {
      if (exact) {
        // The planner prefers the HNSW index for ORDER BY … LIMIT whenever one exists.
        await tx.query("SELECT set_config('enable_indexscan', 'off', true)");
      } else {
        await tx.query("SELECT set_config('hnsw.ef_search', $1, true)", [
          String(Math.min(1000, Math.max(efSearch, limit))),
        ]);
        // With a filter, keep scanning the graph until enough rows pass it (pgvector ≥ 0.8).
        if (filter) await tx.query("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)");
      }
      return tx.query<{ id: string; distance: number; norm: number }>(sql, params);
    };
    const rows = await this.client.transaction(run);
    return rows.map((r) => ({ id: r.id, score: this.sql.score(Number(r.distance)), norm: Number(r.norm) }));
  }

  /** Replaces the scores at `positions` by float64 scores from the stored vectors. */
  private async rescore(rows: RankedRow[], positions: number[], query: Float32Array): Promise<void> {
    const ids = positions.map((p) => (rows[p] as RankedRow).id);
    const stored = await this.client.query<{ id: string; v: string }>(
      `SELECT id, embedding::text AS v FROM ${this.table} WHERE id = ANY($1::text[])`,
      [ids],
    );
    const byId = new Map(stored.map((r) => [r.id, vectorFromSql(r.v)]));
    for (const p of positions) {
      const row = rows[p] as RankedRow;
      const vector = byId.get(row.id);
      // Deleted between the two statements: keep the database's score.
      if (vector) row.score = exactScore(this.metric, query, vector);
    }
  }

  private async attachText(hits: VectorHit[]): Promise<VectorHit[]> {
    if (hits.length === 0) return hits;
    const rows = await this.client.query<{ id: string; text: string; metadata: Record<string, unknown> | string }>(
      `SELECT id, text, metadata FROM ${this.table} WHERE id = ANY($1::text[])`,
      [hits.map((h) => h.id)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return hits.map((h) => {
      const row = byId.get(h.id);
      if (!row) return h;
      const metadata =
        typeof row.metadata === "string" ? (JSON.parse(row.metadata) as Record<string, unknown>) : row.metadata;
      return { ...h, text: row.text, metadata };
    });
  }
}

function checkIdList(op: string, ids: unknown): asserts ids is string[] {
  if (!Array.isArray(ids)) throw new Error(`${op}: ids must be an array of strings`);
  ids.forEach((id, i) => {
    if (typeof id !== "string" || id === "")
      throw new Error(`${op}: ids[${i}] must be a non-empty string, got ${JSON.stringify(id)}`);
  });
}

function checkSearchOptions(
  op: string,
  options: SearchOptions,
): { k: number; filter: Record<string, unknown> | undefined; efSearch: number } {
  if (typeof options !== "object" || options === null) throw new Error(`${op}: options must be an object`);
  const k = options.k ?? 10;
  if (!Number.isSafeInteger(k) || k < 1) throw new Error(`${op}: options.k must be a positive integer, got ${k}`);
  const efSearch = options.efSearch ?? 100;
  if (!Number.isSafeInteger(efSearch) || efSearch < 1 || efSearch > 1000) {
    throw new Error(`${op}: options.efSearch must be an integer in [1, 1000], got ${efSearch}`);
  }
  const filter = options.filter;
  if (filter !== undefined && (typeof filter !== "object" || filter === null || Array.isArray(filter))) {
    throw new Error(
      `${op}: options.filter must be a JSON object (matched by containment), got ${JSON.stringify(filter)}`,
    );
  }
  return { k, filter, efSearch };
}
