import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatTrecRun, parseTrecRun, type Run, readTrecRun, writeTrecRun } from "../src/index.js";

const run: Run = new Map([
  [
    "q1",
    [
      { docId: "b", score: 0.1 },
      { docId: "a", score: 0.30000000000000004 },
      { docId: "c", score: 0.1 },
    ],
  ],
  ["q2", [{ docId: "z", score: -2.5e-9 }]],
]);

describe("TREC run files", () => {
  it("writes in trec_eval order with ranks from 1 and exact scores", () => {
    expect(formatTrecRun(run, "bm25")).toBe(
      "q1 Q0 a 1 0.30000000000000004 bm25\nq1 Q0 c 2 0.1 bm25\nq1 Q0 b 3 0.1 bm25\nq2 Q0 z 1 -2.5e-9 bm25\n",
    );
  });

  it("round-trips through a file", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "revela-run-")), "run.trec");
    await writeTrecRun(file, run);
    const back = await readTrecRun(file);
    expect([...back.keys()]).toEqual(["q1", "q2"]);
    expect(back.get("q1")).toEqual([
      { docId: "a", score: 0.30000000000000004 },
      { docId: "c", score: 0.1 },
      { docId: "b", score: 0.1 },
    ]);
    expect(readFileSync(file, "utf8")).toBe(formatTrecRun(run));
  });

  it("reads whitespace-separated lines, ignoring the rank column", () => {
    const parsed = parseTrecRun("q1\tQ0\td1\t7\t1.5\ttag\n\nq1 Q0 d2 1 2 tag\r\n");
    expect(parsed.get("q1")).toEqual([
      { docId: "d1", score: 1.5 },
      { docId: "d2", score: 2 },
    ]);
  });

  it("refuses malformed lines, bad scores and duplicates with file:line", () => {
    expect(() => parseTrecRun("q1 Q0 d1 1 0.5\n", "x.run")).toThrow(/x\.run:1: expected 6 fields/);
    expect(() => parseTrecRun("q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 abc t\n", "x.run")).toThrow(
      /x\.run:2: score "abc" is not a finite number/,
    );
    expect(() => parseTrecRun("q1 Q0 d1 1 1 t\nq2 Q0 d1 1 1 t\nq1 Q0 d1 2 0 t\n", "x.run")).toThrow(
      /x\.run:3: query "q1" retrieves document "d1" again/,
    );
    expect(() => parseTrecRun("q1 Q0 d1 1 1 t\nq1 Q0 d1 2 0 t\n", "x.run")).toThrow(/first at line 1/);
  });

  it("refuses ids the format cannot hold", () => {
    expect(() => formatTrecRun(new Map([["q 1", [{ docId: "a", score: 1 }]]]))).toThrow(
      /query id "q 1" is empty or contains whitespace/,
    );
    expect(() => formatTrecRun(run, "my tag")).toThrow(/tag "my tag"/);
  });

  it("reports a missing file", async () => {
    const missing = path.join(tmpdir(), "no-such-dir-revela", "run.trec");
    await expect(readTrecRun(missing)).rejects.toThrow(/ENOENT/);
  });
});
