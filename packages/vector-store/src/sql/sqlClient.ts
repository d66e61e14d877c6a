/**
 * The one SQL surface both backends offer, so that every statement of the store is written once and
 * runs unchanged on embedded PGlite and on a PostgreSQL server. Parameters are positional ($1, $2…);
 * vectors travel as pgvector's text form ("[0.1,0.2]") cast in SQL, so neither backend needs a type
 * parser registered.
 */
export interface SqlClient {
  /** Which backend this is: "pglite" (embedded) or "postgres" (a server through pg). */
  readonly backend: "pglite" | "postgres";
  /** Where the data lives, for messages: a directory, "memory://", or the server URL without password. */
  readonly location: string;
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /**
   * Runs `work` inside BEGIN … COMMIT on one connection; any error rolls everything back, so a
   * batch is written whole or not at all.
   */
  transaction<T>(work: (tx: SqlQuery) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** What a transaction body may do: queries on the transaction's own connection. */
export interface SqlQuery {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}
