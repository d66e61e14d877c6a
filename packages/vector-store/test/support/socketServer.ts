import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** A PostgreSQL wire-protocol server on 127.0.0.1 (a free port), backed by an in-memory PGlite. */
export interface TestServer {
  url: string;
  db: PGlite;
  server: PGLiteSocketServer;
  stop(): Promise<void>;
}

/**
 * Starts PGlite behind pglite-socket, with pgvector unless `withVector` is false (a server that lacks
 * the extension). The tests start and stop it themselves, so CI needs no PostgreSQL installed.
 */
export async function startTestServer(options: { withVector?: boolean; db?: PGlite } = {}): Promise<TestServer> {
  const db = options.db ?? (await PGlite.create(options.withVector === false ? {} : { extensions: { vector } }));
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 8 });
  await server.start();
  const port = /:(\d+)$/.exec(server.getServerConn())?.[1];
  if (!port) throw new Error(`startTestServer: cannot read the port from ${server.getServerConn()}`);
  return {
    url: `postgres://postgres:secret@127.0.0.1:${port}/postgres`,
    db,
    server,
    stop: async () => {
      await server.stop();
    },
  };
}
