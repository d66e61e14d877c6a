import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  createBm25Engine,
  DataFormatError,
  ENGLISH_STOPWORDS,
  englishAnalyzer,
  InvalidUtf8Lines,
  readLines,
} from "../src/index.js";

const dir = mkdtempSync(path.join(tmpdir(), "text-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function linesOf(bytes: Buffer): Promise<{ text: string; line: number; invalidUtf8: boolean }[]> {
  const file = path.join(dir, `f${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(file, bytes);
  const out = [];
  for await (const l of readLines(file)) out.push(l);
  return out;
}

describe("readLines", () => {
  it("numbers lines from 1, drops a BOM and CR, and keeps a last line without a newline", async () => {
    const lines = await linesOf(Buffer.from("\ufeffa\r\nb\n\nc", "utf8"));
    expect(lines.map((l) => [l.line, l.text])).toEqual([
      [1, "a"],
      [2, "b"],
      [3, ""],
      [4, "c"],
    ]);
  });

  it("flags exactly the lines with invalid UTF-8, and InvalidUtf8Lines names them as file:line", async () => {
    const bad = Buffer.concat([Buffer.from("ok\nbad "), Buffer.from([0xff, 0xfe]), Buffer.from("\nfine\n")]);
    const file = path.join(dir, "bad.txt");
    writeFileSync(file, bad);
    const invalid = new InvalidUtf8Lines(file);
    const flags: boolean[] = [];
    for await (const l of readLines(file)) {
      flags.push(l.invalidUtf8);
      invalid.add(l);
    }
    expect(flags).toEqual([false, true, false]);
    expect(invalid.warning()).toBe(`${file}:2: invalid UTF-8 on 1 line(s) (2); the bad bytes were read as U+FFFD`);
    expect(new InvalidUtf8Lines(file).warning()).toBeNull();
  });
});

describe("DataFormatError", () => {
  it("starts its message with file:line and keeps the parts", () => {
    const e = new DataFormatError("c.jsonl", 7, "not valid JSON");
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe("c.jsonl:7: not valid JSON");
    expect([e.name, e.file, e.line, e.problem]).toEqual(["DataFormatError", "c.jsonl", 7, "not valid JSON"]);
  });
});

describe("englishAnalyzer", () => {
  it("lowercases, drops possessives and the Lucene stopwords, splits on non-alphanumerics, stems", () => {
    expect(englishAnalyzer()("The cell's Proteins, in 3D-structures!")).toEqual(["cell", "protein", "3d", "structur"]);
    expect(englishAnalyzer({ stem: null })("The cells are running")).toEqual(["cells", "running"]);
    expect(ENGLISH_STOPWORDS.has("not")).toBe(false);
    expect(ENGLISH_STOPWORDS.has("the")).toBe(true);
  });
});

describe("createBm25Engine", () => {
  it("ranks the document sharing the rare query term first", () => {
    const engine = createBm25Engine();
    engine.defineConfig({ fldWeights: { text: 1 } });
    engine.definePrepTasks([englishAnalyzer()]);
    engine.addDoc({ text: "protein folding in cells" }, "a");
    engine.addDoc({ text: "cells divide" }, "b");
    engine.addDoc({ text: "galaxies and stars" }, "c");
    engine.consolidate();
    expect(engine.getTotalDocs()).toBe(3);
    const hits = engine.search("folding proteins");
    expect(hits[0]?.[0]).toBe("a");
    expect(hits.map(([id]) => id)).not.toContain("c");
  });
});
