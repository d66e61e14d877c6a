import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DataFormatError } from "@revela/text-data";
import { afterAll, describe, expect, it } from "vitest";
import { readBeirCorpus } from "../../src/data/readBeirCorpus.js";
import { type CorpusWarning, type JsonlCorpusOptions, readJsonlCorpus } from "../../src/data/readJsonlCorpus.js";
import type { Document } from "../../src/data/types.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "revela-corpus-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: string[]): string {
  const p = path.join(dir, name);
  writeFileSync(p, lines.join("\n"));
  return p;
}

async function collect(iter: AsyncIterable<Document>): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of iter) out.push(d);
  return out;
}

async function readWithWarnings(p: string, options: JsonlCorpusOptions = {}) {
  const warnings: CorpusWarning[] = [];
  const docs = await collect(readJsonlCorpus(p, { ...options, onWarning: (w) => warnings.push(w) }));
  return { docs, warnings };
}

describe("readJsonlCorpus", () => {
  it("yields id, optional title and text; numeric ids become strings; blank lines, BOM and CRLF are accepted", async () => {
    const p = path.join(dir, "good.jsonl");
    writeFileSync(
      p,
      `\ufeff${JSON.stringify({ id: "a", title: "T", text: "alpha" })}\r\n\r\n${JSON.stringify({ id: 7, text: "beta", title: null })}\n${JSON.stringify({ id: "c", text: "gamma", title: "" })}\n`,
    );
    const { docs, warnings } = await readWithWarnings(p);
    expect(docs).toEqual([
      { id: "a", title: "T", text: "alpha" },
      { id: "7", text: "beta" },
      { id: "c", text: "gamma" },
    ]);
    expect(warnings).toEqual([]);
  });

  it("skips bad lines with file:line warnings and a summary at the end", async () => {
    const p = file("bad.jsonl", [
      JSON.stringify({ id: "1", text: "fine" }),
      "{not json",
      JSON.stringify({ id: "2" }),
      JSON.stringify({ id: "3", text: "   " }),
      JSON.stringify({ text: "no id" }),
      JSON.stringify({ id: "1", text: "again" }),
      JSON.stringify([1, 2]),
      JSON.stringify({ id: "4", text: 5 }),
      JSON.stringify({ id: "5", text: "also fine" }),
    ]);
    const { docs, warnings } = await readWithWarnings(p);
    expect(docs.map((d) => d.id)).toEqual(["1", "5"]);
    expect(warnings.map((w) => w.line)).toEqual([2, 3, 4, 5, 6, 7, 8, undefined]);
    expect(warnings[0]?.message).toMatch(
      new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: skipped: invalid JSON`),
    );
    expect(warnings[1]?.reason).toMatch(/missing text field "text" \(id "2"\)/);
    expect(warnings[2]?.reason).toMatch(/empty text/);
    expect(warnings[3]?.reason).toMatch(/missing id field "id"/);
    expect(warnings[4]?.reason).toMatch(/duplicate id "1" \(first at line 1\)/);
    expect(warnings[5]?.reason).toMatch(/JSON object, got an array/);
    expect(warnings[6]?.reason).toMatch(/"text" must be a string, got number/);
    expect(warnings[7]).toMatchObject({ skipped: 7, reason: "7 bad lines skipped of 9" });
  });

  it("strict mode fails on the first bad line, naming file:line", async () => {
    const p = file("strict.jsonl", [JSON.stringify({ id: "1", text: "ok" }), JSON.stringify({ id: "2", text: "" })]);
    const error = await collect(readJsonlCorpus(p, { strict: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataFormatError);
    expect((error as DataFormatError).message).toBe(`${p}:2: empty text in field "text" (id "2")`);
    expect((error as DataFormatError).line).toBe(2);
  });

  it("caps per-line warnings but counts every bad line in the summary", async () => {
    const p = file("many.jsonl", [...Array.from({ length: 5 }, () => "nope"), JSON.stringify({ id: "x", text: "y" })]);
    const { docs, warnings } = await readWithWarnings(p, { maxLineWarnings: 2 });
    expect(docs).toHaveLength(1);
    expect(warnings.map((w) => w.line)).toEqual([1, 2, undefined]);
    expect(warnings[2]?.message).toMatch(/5 bad lines skipped of 6 \(3 not listed individually\)/);
  });

  it("reads other field names", async () => {
    const p = file("fields.jsonl", [JSON.stringify({ doc: "d1", body: "hello", head: "H" })]);
    const docs = await collect(readJsonlCorpus(p, { idField: "doc", textField: "body", titleField: "head" }));
    expect(docs).toEqual([{ id: "d1", title: "H", text: "hello" }]);
  });

  it("rejects a missing file and bad options with the name of what is wrong", async () => {
    await expect(collect(readJsonlCorpus(path.join(dir, "absent.jsonl")))).rejects.toThrow(
      /cannot read corpus file .*absent\.jsonl/,
    );
    const p = file("opts.jsonl", []);
    await expect(collect(readJsonlCorpus(p, { idField: "" }))).rejects.toThrow(
      /options\.idField must be a non-empty string/,
    );
    await expect(collect(readJsonlCorpus(p, { maxLineWarnings: -1 }))).rejects.toThrow(/options\.maxLineWarnings/);
  });
});

describe("readBeirCorpus", () => {
  it("reads _id/title/text and gives training title + '. ' + text when a title exists", async () => {
    const p = file("corpus.jsonl", [
      JSON.stringify({ _id: "d1", title: "Aspirin", text: "It thins blood.", metadata: {} }),
      JSON.stringify({ _id: "d2", title: "", text: "No title here." }),
      JSON.stringify({ _id: "d3", text: "" }),
    ]);
    const warnings: CorpusWarning[] = [];
    const docs = await collect(readBeirCorpus(p, { onWarning: (w) => warnings.push(w) }));
    expect(docs).toEqual([
      { id: "d1", title: "Aspirin", text: "Aspirin. It thins blood." },
      { id: "d2", text: "No title here." },
    ]);
    expect(warnings[0]?.message).toContain(`${p}:3: skipped: empty text`);
  });

  it("reports invalid UTF-8 by file:line instead of replacing it silently, and refuses it when strict", async () => {
    const p = path.join(dir, "latin1.jsonl");
    writeFileSync(
      p,
      Buffer.concat([
        Buffer.from(`${JSON.stringify({ id: "a", text: "fine" })}\n{"id": "b", "text": "caf`),
        Buffer.from([0xe9]), // "é" in Latin-1: not UTF-8
        Buffer.from(`"}\n${JSON.stringify({ id: "c", text: "also fine" })}\n`),
      ]),
    );
    const { docs, warnings } = await readWithWarnings(p);
    expect(docs.map((d) => d.text)).toEqual(["fine", "caf\ufffd", "also fine"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toBe(`${p}:2: invalid UTF-8 on 1 line(s) (2); the bad bytes were read as U+FFFD`);
    const error = await collect(readJsonlCorpus(p, { strict: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataFormatError);
    expect((error as DataFormatError).message).toMatch(
      new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: invalid UTF-8`),
    );
  });
});
