import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { initBackend } from "@revela/kernels";
import { loadEmbeddings, saveRetriever } from "@revela/retriever";
import { tinyRetriever } from "@revela/test-fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRevela } from "./cliHarness.js";

// A randomly initialised tiny retriever (no training): enough to drive encode, search and eval
// end to end through the CLI in a few seconds.

const DOCS = [
  { _id: "d1", title: "Cats", text: "cats purr and sleep in the sun" },
  { _id: "d2", title: "Dogs", text: "dogs bark at the postman" },
  { _id: "d3", title: "Fish", text: "fish swim in the sea" },
  { _id: "d4", title: "Birds", text: "birds sing in the morning" },
];
const QUERIES = [
  { _id: "q1", text: "which animal purrs" },
  { _id: "q2", text: "who barks" },
];

const tmp = mkdtempSync(path.join(tmpdir(), "revela-retriever-cli-"));
const retrieverDir = path.join(tmp, "retriever");
const dataDir = path.join(tmp, "tiny");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  await initBackend({ backend: "wasm", threads: 1 });
  const texts = [...DOCS.map((d) => `${d.title} ${d.text}`), ...QUERIES.map((q) => q.text), "a b c"];
  const retriever = await tinyRetriever(texts, { seed: 1, layers: 1, maxPositions: 64 });
  await saveRetriever(retriever, retrieverDir);
  retriever.dispose();
  mkdirSync(path.join(dataDir, "qrels"), { recursive: true });
  writeFileSync(path.join(dataDir, "corpus.jsonl"), `${DOCS.map((d) => JSON.stringify(d)).join("\n")}\n`);
  writeFileSync(path.join(dataDir, "queries.jsonl"), `${QUERIES.map((q) => JSON.stringify(q)).join("\n")}\n`);
  writeFileSync(path.join(dataDir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
});

describe("revela encode → search with a saved retriever", () => {
  const index = path.join(tmp, "out", "corpus.emb");

  it("encodes a BEIR corpus into an embeddings file with the ids", async () => {
    const run = await runRevela([
      "encode",
      "--retriever",
      retrieverDir,
      "--input",
      path.join(dataDir, "corpus.jsonl"),
      "--output",
      index,
      "--backend",
      "wasm",
    ]);
    expect(run.stderr).not.toMatch(/revela: /);
    expect(run.code).toBe(0);
    const { ids, matrix } = await loadEmbeddings(index);
    expect(ids).toEqual(["d1", "d2", "d3", "d4"]);
    expect(matrix.shape).toEqual([4, 32]);
    // The retriever L2-normalises its embeddings.
    expect(Math.hypot(...matrix.data.subarray(0, 32))).toBeCloseTo(1, 5);
    expect(run.stderr).toContain("wrote 4 passage embeddings (32 dimensions)");
  });

  it("searches it: k hits, best first, every id from the index", async () => {
    const run = await runRevela([
      "search",
      "--retriever",
      retrieverDir,
      "--index",
      index,
      "--query",
      "who barks",
      "-k",
      "3",
      "--json",
    ]);
    expect(run.code).toBe(0);
    const { hits } = JSON.parse(run.stdout) as { hits: { rank: number; id: string; score: number }[] };
    expect(hits.map((h) => h.rank)).toEqual([1, 2, 3]);
    for (const h of hits) expect(["d1", "d2", "d3", "d4"]).toContain(h.id);
    expect(hits[0]?.score).toBeGreaterThanOrEqual(hits[2]?.score as number);
    const plain = await runRevela(["search", "--retriever", retrieverDir, "--index", index, "--query", "who barks"]);
    expect(plain.stdout.trimEnd().split("\n")).toHaveLength(4); // only 4 rows in the index
  });

  it("refuses an index made by a retriever of another size", async () => {
    const other = path.join(tmp, "other.emb");
    const { saveEmbeddings } = await import("@revela/retriever");
    await saveEmbeddings(other, ["x"], { data: new Float32Array(8), shape: [1, 8] });
    const run = await runRevela(["search", "--retriever", retrieverDir, "--index", other, "--query", "q"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/holds 8-dimensional vectors but the retriever .* makes 32-dimensional ones/);
  });
});

describe("revela eval --retriever", () => {
  it("evaluates a saved retriever on a BEIR folder", async () => {
    const run = await runRevela(["eval", "--retriever", retrieverDir, "--data", dataDir, "--json"]);
    expect(run.stderr).not.toMatch(/revela: /);
    expect(run.code).toBe(0);
    const row = JSON.parse(run.stdout);
    expect(row).toMatchObject({ system: "Retriever (retriever)", queries: 2, documents: 4 });
    for (const key of ["ndcg10", "recall100", "mrr10"]) {
      expect(row[key]).toBeGreaterThan(0);
      expect(row[key]).toBeLessThanOrEqual(1);
    }
    // Every document is within the top 100 of 4.
    expect(row.recall100).toBe(1);
  });
});
