/** Progress of a long retrieval: which phase, how many items of it are done. */
export interface RetrievalProgress {
  phase: "queries" | "documents";
  done: number;
  total: number;
}

/** Options shared by every retriever that produces a run. */
export interface RetrieveOptions {
  /** Documents kept per query; default 1000 (BEIR's largest cutoff). */
  k?: number;
  /** Never return a document whose id equals the query id (ArguAna/Quora); default false. */
  ignoreIdenticalIds?: boolean;
  onProgress?: (progress: RetrievalProgress) => void;
}

export function checkQueries(queries: Map<string, string>, where: string): void {
  for (const [id, text] of queries) {
    if (typeof text !== "string") throw new Error(`${where}: query "${id}" has text of type ${typeof text}`);
  }
}
