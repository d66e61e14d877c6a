import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DataFormatError, loadBeirDataset, readCorpus, readQrels, readQueries } from "../src/index.js";
import { scifactDir } from "./support/scifact.js";

function dataset(files: { corpus?: string; queries?: string; qrels?: string }): string {
  const dir = mkdtempSync(path.join(tmpdir(), "revela-eval-"));
  mkdirSync(path.join(dir, "qrels"));
  const doc = (id: string, text = "text") => JSON.stringify({ _id: id, title: `title ${id}`, text });
  writeFileSync(path.join(dir, "corpus.jsonl"), files.corpus ?? `${[doc("d1"), doc("d2"), doc("d3")].join("\n")}\n`);
  writeFileSync(
    path.join(dir, "queries.jsonl"),
    files.queries ?? '{"_id": "q1", "text": "one"}\n{"_id": "q2", "text": "two"}\n',
  );
  writeFileSync(
    path.join(dir, "qrels", "test.tsv"),
    files.qrels ?? "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n",
  );
  return dir;
}

describe("loadBeirDataset", () => {
  it("loads corpus, judged queries and graded qrels", async () => {
    const ds = await loadBeirDataset(dataset({}));
    expect([...ds.corpus.keys()]).toEqual(["d1", "d2", "d3"]);
    expect(ds.corpus.get("d2")).toEqual({ id: "d2", title: "title d2", text: "text" });
    expect([...ds.queries]).toEqual([["q1", "one"]]); // q2 has no judgements in this split
    expect(ds.qrels.get("q1")).toEqual(
      new Map([
        ["d1", 1],
        ["d2", 0],
      ]),
    );
    expect(ds.warnings).toEqual([]);
  });

  it("counts qrels rows that name unknown queries or documents, and keeps them", async () => {
    const ds = await loadBeirDataset(
      dataset({ qrels: "query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\nq1\tdx\t2\nq1\tdy\t1\n" }),
    );
    expect(ds.unknownQueryRows).toBe(1);
    expect(ds.unknownDocumentRows).toBe(2);
    expect(ds.warnings).toHaveLength(2);
    expect(ds.warnings[0]).toMatch(
      /qrels[/\\]test\.tsv: 1 row\(s\) name 1 query id\(s\) not in queries\.jsonl \(e\.g\. "q9"\)/,
    );
    expect(ds.warnings[1]).toMatch(/2 row\(s\) name 2 document id\(s\) not in corpus\.jsonl \(e\.g\. "dx", "dy"\)/);
    expect(ds.qrels.get("q1")?.get("dx")).toBe(2);
  });

  it("names a missing file and the split", async () => {
    await expect(loadBeirDataset(dataset({}), { split: "dev" })).rejects.toThrow(/qrels[/\\]dev\.tsv does not exist/);
  });

  it("reads SciFact: 5183 documents, 300 test queries, 339 judgements, no warnings", async () => {
    const ds = await loadBeirDataset(scifactDir());
    expect(ds.corpus.size).toBe(5183);
    expect(ds.queries.size).toBe(300);
    let pairs = 0;
    for (const judgements of ds.qrels.values()) pairs += judgements.size;
    expect(pairs).toBe(339);
    expect(ds.warnings).toEqual([]);
  });
});

describe("format errors name the file and line", () => {
  it("duplicate document id", async () => {
    const dir = dataset({
      corpus: '{"_id": "a", "text": "x"}\n{"_id": "b", "text": "y"}\n{"_id": "a", "text": "z"}\n',
    });
    const error = await readCorpus(path.join(dir, "corpus.jsonl")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataFormatError);
    expect((error as DataFormatError).line).toBe(3);
    expect((error as Error).message).toMatch(/corpus\.jsonl:3: duplicate document id "a" \(first at line 1\)/);
  });

  it("malformed JSON, missing text, bad id", async () => {
    const bad = async (corpus: string) => readCorpus(path.join(dataset({ corpus }), "corpus.jsonl"));
    await expect(bad('{"_id": "a", "text": "x"}\n{"_id": "b", "text": \n')).rejects.toThrow(
      /corpus\.jsonl:2: not valid JSON/,
    );
    await expect(bad('{"_id": "a", "title": "t"}\n')).rejects.toThrow(
      /corpus\.jsonl:1: document "a": "text" must be a string, got nothing/,
    );
    await expect(bad('{"_id": "", "text": "x"}\n')).rejects.toThrow(/:1: "_id" must be a non-empty string/);
    await expect(bad("[1, 2]\n")).rejects.toThrow(/:1: expected a JSON object, got an array/);
  });

  it("duplicate query id", async () => {
    const dir = dataset({ queries: '{"_id": "q1", "text": "a"}\n\n{"_id": "q1", "text": "b"}\n' });
    await expect(readQueries(path.join(dir, "queries.jsonl"))).rejects.toThrow(
      /queries\.jsonl:3: duplicate query id "q1" \(first at line 1\)/,
    );
  });

  it("qrels: missing header, wrong field count, non-integer score, conflicting duplicate", async () => {
    const bad = async (qrels: string) => readQrels(path.join(dataset({ qrels }), "qrels", "test.tsv"));
    await expect(bad("q1\td1\t1\n")).rejects.toThrow(/test\.tsv:1: expected the header line/);
    await expect(bad("query-id\tcorpus-id\tscore\nq1 d1 1\n")).rejects.toThrow(
      /test\.tsv:2: expected 3 tab-separated fields/,
    );
    await expect(bad("query-id\tcorpus-id\tscore\nq1\td1\t0.5\n")).rejects.toThrow(
      /test\.tsv:2: score must be an integer, got "0\.5"/,
    );
    await expect(bad("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t2\n")).rejects.toThrow(
      /test\.tsv:3: query "q1", document "d1" judged 2 here and 1 at line 2/,
    );
    const repeated = await bad("query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq1\td1\t1\r\n");
    expect(repeated.get("q1")).toEqual(new Map([["d1", 1]]));
  });
});

describe("encodings", () => {
  it("warns with file:line about invalid UTF-8 instead of replacing it silently", async () => {
    const dir = dataset({});
    const line = (id: string, text: string) => Buffer.from(`${JSON.stringify({ _id: id, text })}\n`);
    const bad = Buffer.from([0x7b, 0x22, 0x5f, 0x69, 0x64, 0x22, 0x3a, 0x22, 0x64, 0x32, 0x22, 0x2c]); // {"_id":"d2",
    writeFileSync(
      path.join(dir, "corpus.jsonl"),
      Buffer.concat([
        line("d1", "fine"),
        bad,
        Buffer.from('"text":"caf'),
        Buffer.from([0xe9, 0xff]), // Latin-1 "é" and a byte no UTF-8 has
        Buffer.from('"}\n'),
        line("d3", "also fine"),
      ]),
    );
    const ds = await loadBeirDataset(dir);
    expect(ds.corpus.get("d2")?.text).toBe("caf\ufffd\ufffd");
    expect(ds.warnings).toEqual([
      `${path.join(dir, "corpus.jsonl")}:2: invalid UTF-8 on 1 line(s) (2); the bad bytes were read as U+FFFD`,
    ]);
    const warnings: string[] = [];
    await readQueries(path.join(dir, "queries.jsonl"), { warnings });
    expect(warnings).toEqual([]);
  });

  it("reads CRLF, a byte-order mark, multi-byte characters and lines longer than a read chunk", async () => {
    const long = "é".repeat(200_000); // 400 kB: spans several stream chunks, split inside characters
    const dir = dataset({
      corpus: `\ufeff${JSON.stringify({ _id: "d1", text: "a" })}\r\n${JSON.stringify({ _id: "d2", text: long })}\r\n${JSON.stringify({ _id: "d3", text: "数据" })}`,
    });
    const ds = await loadBeirDataset(dir);
    expect(ds.corpus.get("d1")?.text).toBe("a");
    expect(ds.corpus.get("d2")?.text).toBe(long);
    expect(ds.corpus.get("d3")?.text).toBe("数据");
    expect(ds.warnings).toEqual([]);
  });
});
