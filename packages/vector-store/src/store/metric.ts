/**
 * How a collection compares vectors. "inner_product" (pgvector `<#>`, `vector_ip_ops`) is cosine for
 * L2-normalised embeddings — the Revela retriever's default — and is what its in-process search
 * computes; "cosine" (`<=>`, `vector_cosine_ops`) normalises on the fly for encoders that do not.
 */
export type Metric = "cosine" | "inner_product";

export const METRICS: readonly Metric[] = ["cosine", "inner_product"];

/** The pgvector distance operator, the operator class an HNSW index needs, and distance → score. */
export function metricSql(metric: Metric): { operator: string; opclass: string; score: (distance: number) => number } {
  return metric === "cosine"
    ? { operator: "<=>", opclass: "vector_cosine_ops", score: (distance) => 1 - distance }
    : { operator: "<#>", opclass: "vector_ip_ops", score: (distance) => -distance };
}
