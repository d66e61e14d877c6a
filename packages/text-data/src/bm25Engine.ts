import winkBm25 from "wink-bm25-text-search";

export interface Bm25EngineConfig {
  /** Fields scored and their weights; wink sums weighted fields into one bag of words and one length. */
  fldWeights: Record<string, number>;
  /** Out-of-range values are silently replaced by wink's defaults (1.2, 0.75, 1): validate before. */
  bm25Params?: { k1?: number; b?: number; k?: number };
  /** Fields kept verbatim per document for `search`'s filter. */
  ovFldNames?: string[];
}

/** The part of a wink-bm25-text-search engine that Revela.js uses, typed (wink ships no types). */
export interface Bm25Engine {
  defineConfig(config: Bm25EngineConfig): boolean;
  definePrepTasks(tasks: Array<(input: string) => string[]>, field?: string): number;
  addDoc(doc: Record<string, string | number>, id: string): number;
  /** Freezes the index; wink refuses fewer than three documents. `fp`: decimals of stored weights. */
  consolidate(fp?: number): boolean;
  /**
   * `[id, score]` pairs, best first, at most `limit`; ties are in insertion order. `filter` sees the
   * fields named in `ovFldNames` and `params`; documents it rejects are not scored.
   */
  search<P>(
    text: string,
    limit?: number,
    filter?: (fieldValues: Record<string, string | number>, params: P) => boolean,
    params?: P,
  ): Array<[string, number]>;
  getTotalDocs(): number;
}

/** A new, empty wink-bm25-text-search engine. */
export function createBm25Engine(): Bm25Engine {
  return winkBm25() as Bm25Engine;
}
