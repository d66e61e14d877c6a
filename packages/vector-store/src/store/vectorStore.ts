import { MEMORY_LOCATION, PgliteClient } from "../sql/pgliteClient.js";
import { PostgresClient } from "../sql/postgresClient.js";
import type { SqlClient } from "../sql/sqlClient.js";
import { Collection } from "./collection.js";
import { METRICS, type Metric } from "./metric.js";
import type { RetrieverIdentity } from "./retrieverIdentity.js";

export interface CollectionOptions {
  /** The retriever whose vectors the collection holds (from `retrieverIdentity`). */
  retriever: RetrieverIdentity;
  /** For a new collection (default "inner_product"); an existing one must have been created with it. */
  metric?: Metric;
  /** Create the collection when it does not exist (default true). */
  create?: boolean;
}

export interface CollectionInfo {
  name: string;
  dimensions: number;
  metric: Metric;
  retrieverId: string;
  retrieverHash: string;
}

const CATALOG = "revela_collections";
const NAME_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

/**
 * A PostgreSQL database with pgvector holding collections of documents and their vectors. One SQL
 * layer, two backends: `VectorStore.open(dir)` embeds PGlite (a directory, or `memory://`);
 * `VectorStore.open("postgres://…")` talks to a server through `pg`. Each collection is a table
 * whose vector column has the retriever's dimension; a catalog table records which retriever (by
 * hash) and metric it was made for.
 */
export class VectorStore {
  private constructor(readonly client: SqlClient) {}

  /**
   * Opens a store: a `postgres://` / `postgresql://` connection string (a server with pgvector), or
   * a directory for embedded PGlite (created if missing), or `memory://`.
   */
  static async open(target: string): Promise<VectorStore> {
    if (typeof target !== "string" || target.trim() === "") {
      throw new Error(`VectorStore.open: target must be a directory, ${MEMORY_LOCATION} or a postgres:// URL`);
    }
    const client: SqlClient = /^postgres(ql)?:\/\//.test(target)
      ? new PostgresClient(target)
      : await PgliteClient.open(target);
    return VectorStore.fromClient(client);
  }

  /** A store on a client the caller made (e.g. `PgliteClient.wrap(db)`); sets up pgvector and the catalog. */
  static async fromClient(client: SqlClient): Promise<VectorStore> {
    try {
      await client.query("CREATE EXTENSION IF NOT EXISTS vector");
    } catch (e) {
      await client.close().catch(() => {});
      const error = e as Error & { code?: string };
      if (error.code === "0A000" || error.code === "58P01" || /extension "vector"/.test(error.message)) {
        throw new Error(
          `the database at ${client.location} has no pgvector extension (${error.message}): install pgvector on the server (packages postgresql-<version>-pgvector), or use the embedded default (a directory)`,
        );
      }
      throw new Error(`cannot set up pgvector in ${client.location}: ${error.message}`);
    }
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${CATALOG} (
         name text PRIMARY KEY, dimensions int NOT NULL, metric text NOT NULL,
         retriever_id text NOT NULL, retriever_hash text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    return new VectorStore(client);
  }

  get backend(): "pglite" | "postgres" {
    return this.client.backend;
  }

  get location(): string {
    return this.client.location;
  }

  /** The collections in the store. */
  async collections(): Promise<CollectionInfo[]> {
    const rows = await this.client.query<CatalogRow>(`SELECT * FROM ${CATALOG} ORDER BY name`);
    return rows.map(toInfo);
  }

  /**
   * Opens the collection `name` for `retriever`, creating it (default) when missing. Refuses a
   * collection made for another retriever (another hash) or with another dimension or metric.
   */
  async collection(name: string, options: CollectionOptions): Promise<Collection> {
    const op = "VectorStore.collection";
    if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
      throw new Error(
        `${op}: name must be 1–40 of a–z, 0–9 and _, starting with a letter; got ${JSON.stringify(name)}`,
      );
    }
    const retriever = options?.retriever;
    if (
      typeof retriever !== "object" ||
      retriever === null ||
      typeof retriever.hash !== "string" ||
      !/^[0-9a-f]{64}$/.test(retriever.hash) ||
      typeof retriever.id !== "string" ||
      !Number.isSafeInteger(retriever.dimensions) ||
      retriever.dimensions < 1
    ) {
      throw new Error(
        `${op}: options.retriever must be a RetrieverIdentity { id, hash, dimensions } from retrieverIdentity()`,
      );
    }
    if (retriever.dimensions > 16000) {
      throw new Error(`${op}: pgvector stores at most 16000 dimensions; the retriever has ${retriever.dimensions}`);
    }
    if (options.metric !== undefined && !METRICS.includes(options.metric)) {
      throw new Error(
        `${op}: options.metric must be one of ${METRICS.join(", ")}, got ${JSON.stringify(options.metric)}`,
      );
    }
    const table = `revela_${name}`;
    const existing = (await this.client.query<CatalogRow>(`SELECT * FROM ${CATALOG} WHERE name = $1`, [name]))[0];
    if (existing) {
      const info = toInfo(existing);
      if (info.retrieverHash !== retriever.hash) {
        throw new Error(
          `collection "${name}" in ${this.location} holds vectors of retriever ${info.retrieverId} (hash ${info.retrieverHash.slice(0, 12)}…), not of ${retriever.id} (hash ${retriever.hash.slice(0, 12)}…): vectors of two retrievers cannot be compared; use another collection or drop this one`,
        );
      }
      if (info.dimensions !== retriever.dimensions) {
        throw new Error(
          `collection "${name}" holds ${info.dimensions}-dimensional vectors, the retriever makes ${retriever.dimensions}`,
        );
      }
      if (options.metric !== undefined && options.metric !== info.metric) {
        throw new Error(`collection "${name}" was created with metric ${info.metric}, not ${options.metric}`);
      }
      return new Collection(this.client, name, table, info.dimensions, info.metric, retriever);
    }
    if (options.create === false)
      throw new Error(`no collection "${name}" in ${this.location} (index documents first)`);
    const metric = options.metric ?? "inner_product";
    await this.client.transaction(async (tx) => {
      await tx.query(
        `CREATE TABLE ${table} (
           id text PRIMARY KEY,
           text text NOT NULL,
           metadata jsonb NOT NULL DEFAULT '{}',
           embedding vector(${retriever.dimensions}) NOT NULL,
           norm float8 NOT NULL,
           tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED)`,
      );
      await tx.query(`CREATE INDEX ${table}_tsv ON ${table} USING gin (tsv)`);
      await tx.query(`CREATE INDEX ${table}_metadata ON ${table} USING gin (metadata jsonb_path_ops)`);
      await tx.query(
        `INSERT INTO ${CATALOG} (name, dimensions, metric, retriever_id, retriever_hash) VALUES ($1, $2, $3, $4, $5)`,
        [name, retriever.dimensions, metric, retriever.id, retriever.hash],
      );
    });
    return new Collection(this.client, name, table, retriever.dimensions, metric, retriever);
  }

  /** Removes a collection and its documents; false when there was none. */
  async dropCollection(name: string): Promise<boolean> {
    if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
      throw new Error(`VectorStore.dropCollection: no valid collection name ${JSON.stringify(name)}`);
    }
    return this.client.transaction(async (tx) => {
      const rows = await tx.query(`DELETE FROM ${CATALOG} WHERE name = $1 RETURNING name`, [name]);
      await tx.query(`DROP TABLE IF EXISTS revela_${name}`);
      return rows.length > 0;
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

interface CatalogRow {
  name: string;
  dimensions: number;
  metric: string;
  retriever_id: string;
  retriever_hash: string;
}

function toInfo(row: CatalogRow): CollectionInfo {
  return {
    name: row.name,
    dimensions: Number(row.dimensions),
    metric: row.metric as Metric,
    retrieverId: row.retriever_id,
    retrieverHash: row.retriever_hash,
  };
}
