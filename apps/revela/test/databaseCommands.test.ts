import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { initBackend } from "@revela/kernels";
import { saveRetriever } from "@revela/retriever";
import { tinyRetriever } from "@revela/test-fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRevela } from "./cliHarness.js";

// Random tiny retrievers (no training) and a 12-document BEIR folder: enough to drive index,
// search and eval --db end to end, on the embedded database and on a server the test starts.

const ANIMALS = ["cats", "dogs", "fish", "birds", "horses", "cows", "frogs", "bees", "owls", "mice", "goats", "ducks"];
const DOCS = ANIMALS.map((a, i) => ({ _id: `d${i + 1}`, title: a, text: `${a} live on the farm number ${i}` }));
const QUERIES = [
  { _id: "q1", text: "which animal purrs on the farm" },
  { _id: "q2", text: "who barks" },
  { _id: "q3", text: "farm animals that fly" },
];

const tmp = mkdtempSync(path.join(tmpdir(), "revela-db-cli-"));
const retrieverDir = path.join(tmp, "retriever");
const otherRetrieverDir = path.join(tmp, "other");
const dataDir = path.join(tmp, "farm");
// Each command opens the database anew (PGlite starts in seconds; more on a loaded machine): this
// limit only stops a hung run — under load the embedded round trip took 125 s.
const HANG_LIMIT = 600_000;
let db: PGlite | undefined;
let server: PGLiteSocketServer | undefined;

beforeAll(async () => {
  await initBackend({ backend: "wasm", threads: 1 });
  const texts = [...DOCS.map((d) => `${d.title} ${d.text}`), ...QUERIES.map((q) => q.text)];
  for (const [dir, seed] of [
    [retrieverDir, 1],
    [otherRetrieverDir, 2],
  ] as const) {
    const retriever = await tinyRetriever(texts, { seed, layers: 1, maxPositions: 64 });
    await saveRetriever(retriever, dir);
    retriever.dispose();
  }
  mkdirSync(path.join(dataDir, "qrels"), { recursive: true });
  writeFileSync(path.join(dataDir, "corpus.jsonl"), `${DOCS.map((d) => JSON.stringify(d)).join("\n")}\n`);
  writeFileSync(path.join(dataDir, "queries.jsonl"), `${QUERIES.map((q) => JSON.stringify(q)).join("\n")}\n`);
  writeFileSync(
    path.join(dataDir, "qrels", "test.tsv"),
    "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td4\t1\nq3\td12\t1\n",
  );
});

afterAll(async () => {
  await server?.stop();
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const evalJson = async (args: string[]) => {
  const run = await runRevela(["eval", "--retriever", retrieverDir, "--data", dataDir, "--json", ...args]);
  expect(run.stderr).not.toMatch(/revela: /);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as { system: string; ndcg10: number; recall100: number; mrr10: number };
};

/** index → index again (resumed) → search → eval --db equals eval in process, on one database target. */
async function roundTrip(target: string): Promise<void> {
  const index = ["index", "--retriever", retrieverDir, "--data", dataDir, "--db", target, "--json"];
  const first = await runRevela([...index, "--commit-every", "5"]);
  expect(first.stderr).not.toMatch(/revela: /);
  expect(first.code).toBe(0);
  expect(JSON.parse(first.stdout)).toMatchObject({
    collection: "farm",
    added: 12,
    skipped: 0,
    documents: 12,
    complete: true,
  });
  const again = await runRevela(index);
  expect(JSON.parse(again.stdout)).toMatchObject({ added: 0, skipped: 12, documents: 12 });

  const search = await runRevela([
    "search",
    "--retriever",
    retrieverDir,
    "--db",
    target,
    "-k",
    "3",
    "--json",
    "who barks",
  ]);
  expect(search.stderr).not.toMatch(/revela: /);
  const { hits } = JSON.parse(search.stdout) as { hits: { rank: number; id: string; score: number; text: string }[] };
  expect(hits.map((h) => h.rank)).toEqual([1, 2, 3]);
  expect(hits[0]?.text).toBe(
    `${DOCS.find((d) => d._id === hits[0]?.id)?.title} ${DOCS.find((d) => d._id === hits[0]?.id)?.text}`,
  );
  // The same top 3 as the in-process search of an embeddings file.
  const emb = path.join(tmp, `corpus-${hits.length}.emb`);
  await runRevela([
    "encode",
    "--retriever",
    retrieverDir,
    "--input",
    path.join(dataDir, "corpus.jsonl"),
    "--output",
    emb,
  ]);
  const inProcess = await runRevela([
    "search",
    "--retriever",
    retrieverDir,
    "--index",
    emb,
    "-k",
    "3",
    "--json",
    "--query",
    "who barks",
  ]);
  expect(hits.map((h) => h.id)).toEqual(JSON.parse(inProcess.stdout).hits.map((h: { id: string }) => h.id));

  const direct = await evalJson([]);
  const through = await evalJson(["--db", target]);
  expect(through.system).toMatch(/via .*exact/);
  expect([through.ndcg10, through.recall100, through.mrr10]).toEqual([direct.ndcg10, direct.recall100, direct.mrr10]);
  const hybrid = await evalJson(["--db", target, "--hybrid"]);
  expect(hybrid.system).toMatch(/hybrid/);

  // Another retriever's vectors do not go into this collection.
  const other = await runRevela(["index", "--retriever", otherRetrieverDir, "--data", dataDir, "--db", target]);
  expect(other.code).toBe(1);
  expect(other.stderr).toMatch(/collection "farm" .*holds vectors of retriever retriever .*not of other/);
}

describe("revela index / search --db / eval --db", () => {
  it(
    "on the embedded database (a folder)",
    async () => {
      await roundTrip(path.join(tmp, "db"));
    },
    HANG_LIMIT,
  );

  it(
    "on a PostgreSQL server (PGlite served on 127.0.0.1 by this test)",
    async () => {
      db = await PGlite.create({ extensions: { vector } });
      server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 8 });
      await server.start();
      const port = /:(\d+)$/.exec(server.getServerConn())?.[1];
      await roundTrip(`postgres://postgres:pw@127.0.0.1:${port}/postgres`);
      const hnsw = await runRevela([
        "index",
        "--retriever",
        retrieverDir,
        "--data",
        dataDir,
        "--db",
        `postgres://postgres:pw@127.0.0.1:${port}/postgres`,
        "--hnsw",
        "--hnsw-m",
        "8",
        "--json",
      ]);
      expect(JSON.parse(hnsw.stdout)).toMatchObject({ hnsw: { m: 8, efConstruction: 64 } });
    },
    HANG_LIMIT,
  );

  it(
    "says what is missing or wrong",
    async () => {
      const noDb = await runRevela(["index", "--retriever", retrieverDir, "--data", dataDir]);
      expect(noDb.stderr).toMatch(/--db is required/);
      const both = await runRevela(["search", "--retriever", retrieverDir, "--db", "x", "--index", "y", "q"]);
      expect(both.stderr).toMatch(/give --index <file> .* or --db <dir\|url>/);
      const filter = await runRevela(["search", "--retriever", retrieverDir, "--db", "x", "--filter", "[1]", "q"]);
      expect(filter.stderr).toMatch(/--filter.*must be a JSON object/);
      const empty = await runRevela(["search", "--retriever", retrieverDir, "--db", path.join(tmp, "empty-db"), "q"]);
      expect(empty.stderr).toMatch(/holds no collection yet \(run revela index first\)/);
    },
    HANG_LIMIT,
  );
});
