// wink-bm25-text-search 3.1.2 ships CommonJS without types; this declares the part we use.
declare module "wink-bm25-text-search" {
  interface WinkBm25Config {
    fldWeights: Record<string, number>;
    bm25Params?: { k1?: number; b?: number; k?: number };
    ovFldNames?: string[];
  }
  interface WinkBm25 {
    defineConfig(config: WinkBm25Config): boolean;
    definePrepTasks(tasks: Array<(input: string) => string[]>, field?: string): number;
    addDoc(doc: Record<string, string | number>, id: string): number;
    consolidate(fp?: number): boolean;
    /**
     * `[id, score]` pairs, best first, at most `limit`. `filter` sees the fields named in
     * `ovFldNames` and `params`; documents it rejects are not scored.
     */
    search<P>(
      text: string,
      limit?: number,
      filter?: (fieldValues: Record<string, string | number>, params: P) => boolean,
      params?: P,
    ): Array<[string, number]>;
    getTotalDocs(): number;
  }
  function bm25(): WinkBm25;
  export = bm25;
}
