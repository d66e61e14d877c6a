import pg from "pg";
import type { SqlClient, SqlQuery } from "./sqlClient.js";

/** A PostgreSQL server through node-postgres (`pg`): a pool of connections to one connection string. */
export class PostgresClient implements SqlClient {
  readonly backend = "postgres" as const;
  readonly location: string;
  private readonly pool: pg.Pool;

  constructor(connectionString: string, options: { max?: number } = {}) {
    if (typeof connectionString !== "string" || !/^postgres(ql)?:\/\//.test(connectionString)) {
      throw new Error(
        `PostgresClient: expected a connection string postgres://user:password@host:port/database, got ${JSON.stringify(connectionString)}`,
      );
    }
    this.location = redactPassword(connectionString);
    this.pool = new pg.Pool({ connectionString, max: options.max ?? 4 });
    // An idle client whose server goes away emits 'error' on the pool; unhandled, it would kill the process.
    this.pool.on("error", () => {});
  }

  async query<Row = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query(sql, [...params])).rows as Row[];
    } catch (e) {
      throw this.explain(e);
    }
  }

  async transaction<T>(work: (tx: SqlQuery) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.explain(e);
    }
    // A connection that failed mid-transaction must not go back to the pool.
    let broken: Error | undefined;
    const onError = (e: Error) => {
      broken = e;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work({
        query: async <Row>(sql: string, params: readonly unknown[] = []) =>
          (await client.query(sql, [...params])).rows as Row[],
      });
      await client.query("COMMIT");
      return result;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      broken ??= isConnectionError(e) ? (e as Error) : undefined;
      throw this.explain(e);
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private explain(e: unknown): Error {
    const error = e as Error & { code?: string };
    if (isConnectionError(error)) {
      return new Error(
        `lost or refused connection to ${this.location} (${error.message}); nothing of an unfinished batch was written`,
      );
    }
    return error;
  }
}

function isConnectionError(e: unknown): boolean {
  const error = e as { code?: string; message?: string };
  return (
    ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "57P01", "08006", "08003"].includes(error?.code ?? "") ||
    /Connection terminated|connection ended|not queryable|Client was closed/i.test(error?.message ?? "")
  );
}

/** The URL with its password replaced, for messages and logs. */
export function redactPassword(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]+):[^@]*@/, "$1:***@");
}
