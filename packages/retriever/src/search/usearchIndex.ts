import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import type { Index as NativeIndex } from "usearch";
import { checkIds, checkK, checkMatrix, type EmbeddingMatrix } from "../matrix/embeddingMatrix.js";
import type { SearchIndex, SearchResult } from "./searchIndex.js";

export interface UsearchIndexOptions {
  /** Graph degree M (default 16): higher = better recall, slower build, more memory. */
  connectivity?: number;
  /** Candidates kept while inserting (efConstruction, default 64). */
  expansionAdd?: number;
  /** Candidates kept while searching (ef, default 128). */
  expansionSearch?: number;
  /** Threads for add and search (default: the available cores). */
  threads?: number;
}

export const USEARCH_IDS_FORMAT = "revela-usearch-ids";
export const USEARCH_IDS_VERSION = 1;

interface IdsFile {
  format: typeof USEARCH_IDS_FORMAT;
  version: typeof USEARCH_IDS_VERSION;
  dimensions: number;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  ids: string[];
}

type UsearchModule = typeof import("usearch");
let usearchModule: UsearchModule | null = null;

/** usearch is loaded on first use, so that the rest of the package works where its binary does not. */
function loadUsearch(): UsearchModule {
  if (!usearchModule) {
    try {
      usearchModule = createRequire(import.meta.url)("usearch") as UsearchModule;
    } catch (e) {
      throw new Error(
        `UsearchIndex: cannot load the usearch native module for ${process.platform}-${process.arch} ` +
          `(${(e as Error).message}); use ExactIndex, or install usearch where a prebuilt binary exists`,
      );
    }
  }
  return usearchModule;
}

/**
 * Approximate top-k by inner product with usearch's HNSW graph (metric "ip"), for corpora where
 * exact search is too slow. usearch keys are unsigned 64-bit integers: row r gets key r, and the
 * string ids are kept here (and saved next to the index file as `<file>.ids.json`).
 *
 * Scores are inner products (usearch reports the distance 1 − ⟨q, x⟩).
 */
export class UsearchIndex implements SearchIndex {
  readonly connectivity: number;
  readonly expansionAdd: number;
  readonly expansionSearch: number;
  readonly threads: number;
  private readonly native: NativeIndex;
  private readonly ids: string[] = [];
  private readonly idSet = new Set<string>();

  constructor(
    readonly dimensions: number,
    options: UsearchIndexOptions = {},
  ) {
    const op = "UsearchIndex";
    if (!Number.isSafeInteger(dimensions) || dimensions < 1) {
      throw new Error(`${op}: dimensions must be a positive integer, got ${dimensions}`);
    }
    const positive = (name: keyof UsearchIndexOptions, fallback: number): number => {
      const v = options[name] ?? fallback;
      if (!Number.isSafeInteger(v) || v < 1)
        throw new Error(`${op}: options.${name} must be a positive integer, got ${v}`);
      return v;
    };
    this.connectivity = positive("connectivity", 16);
    this.expansionAdd = positive("expansionAdd", 64);
    this.expansionSearch = positive("expansionSearch", 128);
    this.threads = positive("threads", availableParallelism());
    const { Index } = loadUsearch();
    this.native = new Index({
      dimensions,
      metric: "ip" as never,
      connectivity: this.connectivity,
      expansion_add: this.expansionAdd,
      expansion_search: this.expansionSearch,
    } as never);
  }

  /** Reads an index written by `save` (the graph file and `<file>.ids.json`). */
  static async load(
    file: string,
    options: Pick<UsearchIndexOptions, "threads" | "expansionSearch"> = {},
  ): Promise<UsearchIndex> {
    if (typeof file !== "string" || !file) throw new Error("UsearchIndex.load: file must be a path string");
    const idsFile = `${file}.ids.json`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(idsFile, "utf8"));
    } catch (e) {
      throw new Error(
        `UsearchIndex.load: cannot read ${idsFile} (written by UsearchIndex.save): ${(e as Error).message}`,
      );
    }
    const o = parsed as Partial<IdsFile>;
    if (o?.format !== USEARCH_IDS_FORMAT) {
      throw new Error(
        `UsearchIndex.load: ${idsFile}: field "format" must be "${USEARCH_IDS_FORMAT}", got ${JSON.stringify(o?.format)}`,
      );
    }
    if (o.version !== USEARCH_IDS_VERSION) {
      throw new Error(
        `UsearchIndex.load: ${idsFile}: format version ${JSON.stringify(o.version)}; this code reads version ${USEARCH_IDS_VERSION}`,
      );
    }
    if (!Array.isArray(o.ids) || !o.ids.every((id) => typeof id === "string")) {
      throw new Error(`UsearchIndex.load: ${idsFile}: field "ids" must be an array of strings`);
    }
    const index = new UsearchIndex(o.dimensions as number, {
      connectivity: o.connectivity as number,
      expansionAdd: o.expansionAdd as number,
      expansionSearch: options.expansionSearch ?? (o.expansionSearch as number),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    });
    try {
      index.native.load(file);
    } catch (e) {
      throw new Error(`UsearchIndex.load: cannot load ${file}: ${(e as Error).message}`);
    }
    if (index.native.size() !== o.ids.length || index.native.dimensions() !== o.dimensions) {
      throw new Error(
        `UsearchIndex.load: ${file} holds ${index.native.size()} vectors of ${index.native.dimensions()} dimensions, ` +
          `but ${idsFile} lists ${o.ids.length} ids of ${o.dimensions} dimensions; the two files do not belong together`,
      );
    }
    for (const id of o.ids) {
      index.ids.push(id);
      index.idSet.add(id);
    }
    return index;
  }

  get size(): number {
    return this.ids.length;
  }

  add(ids: readonly string[], matrix: EmbeddingMatrix): void {
    const op = "UsearchIndex.add";
    checkMatrix(op, "matrix", matrix, this.dimensions);
    checkIds(op, ids, matrix.shape[0]);
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (this.idSet.has(id) || seen.has(id))
        throw new Error(`${op}: ids[${i}] = ${JSON.stringify(id)} is already in the index`);
      seen.add(id);
    });
    if (ids.length === 0) return;
    const keys = new BigUint64Array(ids.length);
    for (let i = 0; i < ids.length; i++) keys[i] = BigInt(this.ids.length + i);
    this.native.add(keys, matrix.data, this.threads);
    for (const id of ids) {
      this.ids.push(id);
      this.idSet.add(id);
    }
  }

  async search(queries: EmbeddingMatrix, k: number): Promise<SearchResult> {
    const op = "UsearchIndex.search";
    checkMatrix(op, "queries", queries, this.dimensions);
    checkK(op, k);
    const nq = queries.shape[0];
    const result: SearchResult = { ids: [], scores: [] };
    if (nq === 0) return result;
    if (this.size === 0) {
      for (let q = 0; q < nq; q++) {
        result.ids.push([]);
        result.scores.push(new Float32Array(0));
      }
      return result;
    }
    // usearch returns a single Matches for one query and BatchMatches otherwise; normalise to rows.
    const raw = this.native.search(queries.data, k, this.threads) as unknown as {
      keys: BigUint64Array;
      distances: Float32Array;
      counts?: BigUint64Array;
    };
    for (let q = 0; q < nq; q++) {
      const count = raw.counts ? Number(raw.counts[q]) : raw.keys.length;
      const offset = raw.counts ? q * k : 0;
      const ids: string[] = [];
      const scores = new Float32Array(count);
      for (let j = 0; j < count; j++) {
        ids.push(this.ids[Number(raw.keys[offset + j])] as string);
        scores[j] = 1 - (raw.distances[offset + j] as number);
      }
      result.ids.push(ids);
      result.scores.push(scores);
    }
    return result;
  }

  /** Writes usearch's graph to `file` and the ids and settings to `<file>.ids.json`. */
  async save(file: string): Promise<void> {
    if (typeof file !== "string" || !file) throw new Error("UsearchIndex.save: file must be a path string");
    const ids: IdsFile = {
      format: USEARCH_IDS_FORMAT,
      version: USEARCH_IDS_VERSION,
      dimensions: this.dimensions,
      connectivity: this.connectivity,
      expansionAdd: this.expansionAdd,
      expansionSearch: this.expansionSearch,
      ids: this.ids,
    };
    const tmp = `${file}.ids.json.partial-${process.pid}`;
    try {
      this.native.save(file);
      await writeFile(tmp, JSON.stringify(ids));
      await rename(tmp, `${file}.ids.json`);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new Error(`UsearchIndex.save: cannot write ${file}: ${(e as Error).message}`);
    }
  }
}
