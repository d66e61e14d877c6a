import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VectorStore } from "../src/index.js";
import { startTestServer, type TestServer } from "./support/socketServer.js";
import { bruteForce, fakeIdentity, unitVectors } from "./support/vectors.js";

const D = 8;
const vectors = unitVectors(200, D, 5);
const ids = vectors.map((_, i) => `d${i}`);
const docs = ids.map((id, i) => ({ id, text: `text of ${id}`, vector: vectors[i] as Float32Array }));
let served: TestServer;

beforeAll(async () => {
  served = await startTestServer();
});
afterAll(async () => {
  await served?.stop();
  await served?.db.close();
});

describe("VectorStore on a PostgreSQL server (PGlite over the wire protocol, through pg)", () => {
  it("upserts, searches exactly and through HNSW, and keeps the password out of messages", async () => {
    const store = await VectorStore.open(served.url);
    try {
      expect(store.backend).toBe("postgres");
      expect(store.location).not.toContain("secret");
      const collection = await store.collection("served", { retriever: fakeIdentity(D) });
      await collection.upsert(docs, { rowsPerStatement: 64 });
      expect(await collection.count()).toBe(docs.length);
      const q = unitVectors(1, D, 6)[0] as Float32Array;
      expect((await collection.search(q, { k: 7 })).map((h) => h.id)).toEqual(
        bruteForce(q, vectors, ids, 7).map((h) => h.id),
      );
      await collection.createHnswIndex();
      const approx = await collection.search(q, { k: 7, efSearch: 200 });
      expect(approx.length).toBe(7);
      await expect(store.collection("served", { retriever: fakeIdentity(D, 9) })).rejects.toThrow(
        /holds vectors of retriever fake-1/,
      );
    } finally {
      await store.close();
    }
  });

  it("a connection dropped mid-upsert leaves nothing of the batch written", async () => {
    const store = await VectorStore.open(served.url);
    const collection = await store.collection("dropped", { retriever: fakeIdentity(D) });
    await collection.upsert(docs.slice(0, 10));
    let statements = 0;
    const upsert = collection.upsert(docs.slice(10), {
      rowsPerStatement: 20,
      onProgress: async () => {
        // After the first statement of the transaction, the server goes away.
        if (++statements === 1) await served.stop();
      },
    });
    await expect(upsert).rejects.toThrow(
      /lost or refused connection to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1.*nothing of an unfinished batch was written/,
    );
    await store.close().catch(() => {});
    // The same database served again: only the first, committed batch is there.
    served = await startTestServer({ db: served.db });
    const again = await VectorStore.open(served.url);
    try {
      const reopened = await again.collection("dropped", { retriever: fakeIdentity(D) });
      expect(await reopened.count()).toBe(10);
    } finally {
      await again.close();
    }
  });

  it("a server without pgvector is refused with what to install", async () => {
    const bare = await startTestServer({ withVector: false });
    try {
      await expect(VectorStore.open(bare.url)).rejects.toThrow(/has no pgvector extension .*install pgvector/);
    } finally {
      await bare.stop();
      await bare.db.close();
    }
  });

  it("an unreachable server fails with the address", async () => {
    await expect(VectorStore.open("postgres://postgres@127.0.0.1:1/postgres")).rejects.toThrow(/127\.0\.0\.1:1/);
  });
});
