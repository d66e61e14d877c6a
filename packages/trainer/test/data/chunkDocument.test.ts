import { describe, expect, it } from "vitest";
import { chunkCorpus, chunkDocument } from "../../src/data/chunkDocument.js";
import { SeededRandom } from "../../src/data/seededRandom.js";
import type { Document } from "../../src/data/types.js";

const words = (text: string) => text.split(/\s+/).filter((w) => w !== "");

/** A sentence of n words ending with a period: "S3w1 S3w2 ... S3wn." */
const sentence = (id: number, n: number) => `${Array.from({ length: n }, (_, i) => `S${id}w${i + 1}`).join(" ")}.`;

describe("chunkDocument", () => {
  it("keeps a short document whole, with its id and index", () => {
    expect(chunkDocument({ id: "d", text: "One short text. Two sentences." })).toEqual([
      { id: "d#0", docId: "d", index: 0, text: "One short text. Two sentences." },
    ]);
  });

  it("packs whole sentences up to maxWords and cuts between sentences", () => {
    const text = [sentence(1, 4), sentence(2, 5), sentence(3, 3), sentence(4, 6)].join(" ");
    const chunks = chunkDocument({ id: "d", text }, { maxWords: 10 });
    expect(chunks.map((c) => words(c.text).length)).toEqual([9, 9]);
    expect(chunks[0]?.text).toBe(`${sentence(1, 4)} ${sentence(2, 5)}`);
    expect(chunks[1]?.text).toBe(`${sentence(3, 3)} ${sentence(4, 6)}`);
    expect(chunks.map((c) => c.id)).toEqual(["d#0", "d#1"]);
  });

  it("splits a sentence longer than maxWords at word boundaries; its tail may share a chunk", () => {
    const text = `${sentence(1, 2)} ${sentence(2, 25)} ${sentence(3, 3)}`;
    const chunks = chunkDocument({ id: "d", text }, { maxWords: 10 });
    expect(chunks.map((c) => words(c.text).length)).toEqual([2, 10, 10, 8]);
    expect(words(chunks[3]?.text ?? "").slice(-3)).toEqual(words(sentence(3, 3)));
  });

  it("loses no words and never exceeds maxWords on varied texts", () => {
    const rng = SeededRandom.fromSeed("chunker");
    const vocab = [
      "alpha",
      "beta",
      "Dr.",
      "e.g.",
      "gamma",
      "(delta)",
      "x=1;",
      "“quoted.”",
      "end!",
      "why?",
      "3.14",
      "\n",
      "\t",
    ];
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + rng.int(400);
      const parts = Array.from({ length: n }, () => vocab[rng.int(vocab.length)] as string);
      const text = parts.join(rng.float() < 0.5 ? " " : "  ");
      const maxWords = 1 + rng.int(40);
      const chunks = chunkDocument({ id: `t${trial}`, text }, { maxWords });
      expect(chunks.flatMap((c) => words(c.text))).toEqual(words(text));
      for (const [i, c] of chunks.entries()) {
        expect(words(c.text).length).toBeGreaterThan(0);
        expect(words(c.text).length).toBeLessThanOrEqual(maxWords);
        expect(c).toMatchObject({ id: `t${trial}#${i}`, docId: `t${trial}`, index: i });
      }
    }
  });

  it("keeps line breaks inside a chunk (code) and gives no chunks for a text without words", () => {
    const code = "function f(x) {\n  return x + 1;\n}";
    expect(chunkDocument({ id: "c", text: code })[0]?.text).toBe(code);
    expect(chunkDocument({ id: "e", text: " \n\t " })).toEqual([]);
  });

  it("rejects bad input naming the field", () => {
    expect(() => chunkDocument({ id: "d", text: "x" }, { maxWords: 0 })).toThrow(
      /chunkDocument: options\.maxWords must be a positive integer, got 0/,
    );
    expect(() => chunkDocument({ id: "", text: "x" })).toThrow(/doc\.id must be a non-empty string/);
    expect(() => chunkDocument({ id: "d" } as Document)).toThrow(
      /doc\.text must be a string, got undefined \(document "d"\)/,
    );
  });
});

describe("chunkCorpus", () => {
  it("chunks an async corpus in order and rejects repeated document ids", async () => {
    async function* docs(): AsyncGenerator<Document> {
      yield { id: "a", text: `${sentence(1, 3)} ${sentence(2, 3)}` };
      yield { id: "b", text: "tiny" };
    }
    const chunks = await chunkCorpus(docs(), { maxWords: 3 });
    expect(chunks.map((c) => c.id)).toEqual(["a#0", "a#1", "b#0"]);
    await expect(
      chunkCorpus([
        { id: "a", text: "x" },
        { id: "a", text: "y" },
      ]),
    ).rejects.toThrow(/chunkCorpus: document 1 repeats id "a"/);
    await expect(chunkCorpus(5 as unknown as Document[])).rejects.toThrow(/docs must be an iterable/);
  });
});
