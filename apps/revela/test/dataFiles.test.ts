import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { defaultDatasetDir } from "../src/data/defaultDataset.js";
import { readTextsFile } from "../src/data/readTextsFile.js";

const tmp = mkdtempSync(path.join(tmpdir(), "revela-data-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const here = path.dirname(new URL(import.meta.url).pathname);
const embedded = path.resolve(here, "..", "data", "scifact");

describe("defaultDatasetDir", () => {
  it("finds the embedded SciFact from the sources", () => {
    expect(defaultDatasetDir()).toBe(embedded);
  });

  it("finds it from the bundle's place (dist/cli.js → ../data/scifact)", () => {
    const bundle = pathToFileURL(path.resolve(here, "..", "dist", "cli.js"));
    expect(defaultDatasetDir(bundle)).toBe(embedded);
  });

  it("fails clearly when the folder is absent", () => {
    const elsewhere = pathToFileURL(path.join(tmp, "a", "b", "cli.js"));
    expect(() => defaultDatasetDir(elsewhere)).toThrow(
      /embedded SciFact dataset is missing .*pass --data <BEIR folder>/,
    );
  });

  it("ships the license and attribution with the data", async () => {
    const { readFile } = await import("node:fs/promises");
    const readme = await readFile(path.join(embedded, "README.md"), "utf8");
    expect(readme).toContain("CC BY-NC 2.0");
    expect(readme).toContain("SciFact (Wadden et al., EMNLP 2020), as packaged by BEIR (Thakur et al., NeurIPS 2021");
    expect(readme).toContain("| Revela 0.5B / 1B / 3B (Revela paper) | 0.660 / 0.719 / 0.733");
  });
});

describe("readTextsFile", () => {
  const write = (name: string, text: string) => {
    const file = path.join(tmp, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };

  it("reads BEIR-style jsonl (title + text) and plain text (ids = line numbers)", async () => {
    const jsonl = write(
      "c.jsonl",
      '{"_id":"a","title":"T","text":"x"}\n\n{"_id":7,"text":"y"}\n{"id":"b","text":"z"}\n',
    );
    expect(await readTextsFile(jsonl)).toEqual([
      { id: "a", text: "T x" },
      { id: "7", text: "y" },
      { id: "b", text: "z" },
    ]);
    const txt = write("q.txt", "first\n\nthird\n");
    expect(await readTextsFile(txt)).toEqual([
      { id: "1", text: "first" },
      { id: "3", text: "third" },
    ]);
  });

  it.each([
    ["bad.jsonl", '{"_id":"a","text":"x"}\n{oops}\n', /bad\.jsonl:2: invalid JSON/],
    ["noid.jsonl", '{"text":"x"}\n', /noid\.jsonl:1: "_id" must be a non-empty string or an integer/],
    ["notext.jsonl", '{"_id":"a","text":3}\n', /notext\.jsonl:1: "text" must be a string, got 3/],
    ["dup.jsonl", '{"_id":"a","text":"x"}\n{"_id":"a","text":"y"}\n', /dup\.jsonl:2: id "a" already appears on line 1/],
    ["empty.txt", "\n\n", /no texts/],
    ["texts.csv", "a,b\n", /must end in \.jsonl .* or \.txt/],
  ])("%s fails naming the file and line", async (name, text, pattern) => {
    await expect(readTextsFile(write(name, text))).rejects.toThrow(pattern);
  });

  it("a missing file", async () => {
    await expect(readTextsFile(path.join(tmp, "none.txt"))).rejects.toThrow(/--input .*none\.txt: no such file/);
  });
});
