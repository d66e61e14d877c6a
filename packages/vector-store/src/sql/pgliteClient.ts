import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import type { SqlClient, SqlQuery } from "./sqlClient.js";

/** The location string that opens an in-memory PGlite (nothing written to disk). */
export const MEMORY_LOCATION = "memory://";

/**
 * Embedded PostgreSQL (PGlite, compiled to WebAssembly) with its pgvector extension loaded: a
 * directory on disk, or memory. Nothing to install or start; one process owns the directory at a time.
 */
export class PgliteClient implements SqlClient {
  readonly backend = "pglite" as const;

  private constructor(
    readonly db: PGlite,
    readonly location: string,
  ) {}

  /** Opens (creating if needed) the database in `dir`, or in memory for `memory://`. */
  static async open(dir: string): Promise<PgliteClient> {
    if (typeof dir !== "string" || dir === "") throw new Error("PgliteClient.open: dir must be a directory path");
    if (dir !== MEMORY_LOCATION) await mkdir(dir, { recursive: true });
    let db: PGlite;
    try {
      db = await PGlite.create(dir === MEMORY_LOCATION ? undefined : dir, { extensions: { vector } });
    } catch (e) {
      throw new Error(
        `cannot open the embedded database in ${dir}: ${(e as Error).message} (is another process using it?)`,
      );
    }
    return new PgliteClient(db, dir);
  }

  /** Wraps a PGlite the caller created (it must have been created with the pgvector extension). */
  static wrap(db: PGlite, location = "pglite"): PgliteClient {
    if (!(db instanceof PGlite)) throw new Error("PgliteClient.wrap: db must be a PGlite instance");
    return new PgliteClient(db, location);
  }

  async query<Row = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.db.query<Row>(sql, [...params])).rows;
  }

  transaction<T>(work: (tx: SqlQuery) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) =>
      work({
        query: async <Row>(sql: string, params: readonly unknown[] = []) =>
          (await tx.query<Row>(sql, [...params])).rows,
      }),
    );
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
