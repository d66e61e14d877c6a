/**
 * @revela/vector-store — serve a Revela retriever's vectors from PostgreSQL + pgvector: embedded
 * PGlite by default (a directory, nothing to install or start), the same SQL on a PostgreSQL server
 * through `pg`. This file is the package's whole public API.
 */
export { MEMORY_LOCATION, PgliteClient } from "./sql/pgliteClient.js";
export { PostgresClient, redactPassword } from "./sql/postgresClient.js";
export type { SqlClient, SqlQuery } from "./sql/sqlClient.js";
export {
  Collection,
  type HnswOptions,
  type HybridOptions,
  type SearchOptions,
  type UpsertOptions,
  type VectorHit,
} from "./store/collection.js";
export { METRICS, type Metric } from "./store/metric.js";
export { type RetrieverIdentity, retrieverIdentity } from "./store/retrieverIdentity.js";
export type { StoredDocument } from "./store/storedDocument.js";
export { type CollectionInfo, type CollectionOptions, VectorStore } from "./store/vectorStore.js";
