import { describe, expect, it, vi } from "vitest";
import { chunkCorpus, chunkDocument, SEGMENTER_WINDOW, sentenceStarts } from "../../src/data/chunkDocument.js";
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

/** The chunker as it was: the whole text through one segmenter. The windowed one must agree with it. */
function referenceChunks(doc: Document, maxWords: number): string[] {
  const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });
  const all = [...doc.text.matchAll(/\S+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
  const sentences: (typeof all)[] = [];
  let current: typeof all = [];
  let w = 0;
  for (const segment of segmenter.segment(doc.text)) {
    const boundary = segment.index + segment.segment.length;
    while (w < all.length && all[w]!.end <= boundary) current.push(all[w++]!);
    if (current.length > 0 && (w === all.length || all[w]!.start >= boundary)) {
      sentences.push(current);
      current = [];
    }
  }
  if (current.length > 0) sentences.push(current);
  const spans: (typeof all)[] = [];
  let chunk: typeof all = [];
  for (const sentence of sentences) {
    if (chunk.length + sentence.length <= maxWords) {
      chunk.push(...sentence);
      continue;
    }
    if (chunk.length > 0) spans.push(chunk);
    let rest = sentence;
    while (rest.length > maxWords) {
      spans.push(rest.slice(0, maxWords));
      rest = rest.slice(maxWords);
    }
    chunk = rest;
  }
  if (chunk.length > 0) spans.push(chunk);
  return spans.map((s) => doc.text.slice(s[0]!.start, s[s.length - 1]!.end));
}

/** Prose with abbreviations, quotes, numbers, line breaks and, every few hundred words, a sentence with no end. */
function prose(rng: SeededRandom, words: number): string {
  const vocab = [
    "the",
    "Model",
    "retrieves",
    "Dr.",
    "e.g.",
    "U.S.",
    "3.14",
    "(see",
    "below)",
    "“quoted”",
    "naïve",
    "数据",
  ];
  const ends = [". ", "! ", "? ", ".\n\n", ".” ", "; ", " "];
  const parts: string[] = [];
  for (let i = 0; i < words; i++) {
    const w = vocab[rng.int(vocab.length)] as string;
    parts.push(i % 400 < 300 && rng.float() < 0.08 ? `${w}${ends[rng.int(ends.length)]}` : `${w} `);
  }
  return parts.join("");
}

describe("chunkDocument on long documents", () => {
  it("finds the same sentences window by window as the whole text gives, window sizes down to 64 characters", () => {
    const rng = SeededRandom.fromSeed("windows");
    const whole = (text: string) =>
      [...new Intl.Segmenter("en", { granularity: "sentence" }).segment(text)].map((s) => s.index).filter((i) => i > 0);
    for (let trial = 0; trial < 20; trial++) {
      const text = prose(rng, 200 + rng.int(800));
      for (const window of [64, 100, 257, 4096]) {
        // Only boundaries between words matter; a window may see one inside an over-long word differently.
        const between = (starts: number[]) => starts.filter((s) => /\s/.test(text[s - 1] ?? " "));
        expect(between([...sentenceStarts(text, window)]), `trial ${trial}, window ${window}`).toEqual(
          between(whole(text)),
        );
      }
    }
  });

  it("gives the chunks the whole-text chunker gives, on documents many windows long", () => {
    const rng = SeededRandom.fromSeed("long documents");
    for (const [words, maxWords] of [
      [13_000, 120],
      [13_000, 7],
      [14_000, 500],
    ] as const) {
      const doc = { id: "long", text: prose(rng, words) };
      expect(doc.text.length).toBeGreaterThan(4 * SEGMENTER_WINDOW);
      expect(chunkDocument(doc, { maxWords }).map((c) => c.text)).toEqual(referenceChunks(doc, maxWords));
    }
    // One sentence longer than several windows, cut into maxWords pieces.
    const endless = { id: "endless", text: Array.from({ length: 12_000 }, (_, i) => `w${i}`).join(" ") };
    expect(chunkDocument(endless).map((c) => c.text)).toEqual(referenceChunks(endless, 120));
  });

  it("feeds the segmenter bounded windows whose lengths add up to about the text's (linear work)", () => {
    const spy = vi.spyOn(Intl.Segmenter.prototype, "segment");
    try {
      const rng = SeededRandom.fromSeed("megabyte");
      for (const text of [prose(rng, 150_000), "x ".repeat(500_000)]) {
        spy.mockClear();
        const chunks = chunkDocument({ id: "big", text });
        expect(chunks.length).toBeGreaterThan(1000);
        const lengths = spy.mock.calls.map(([input]) => String(input).length);
        expect(Math.max(...lengths)).toBeLessThanOrEqual(64 * 1024);
        expect(lengths.reduce((a, b) => a + b, 0)).toBeLessThan(1.2 * text.length);
      }
    } finally {
      spy.mockRestore();
    }
  });
});
