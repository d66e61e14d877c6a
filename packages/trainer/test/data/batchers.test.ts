import { describe, expect, it } from "vitest";
import { Bm25NeighbourBatcher } from "../../src/data/bm25NeighbourBatcher.js";
import { ConsecutiveBatcher } from "../../src/data/consecutiveBatcher.js";
import { epochBatchSizes } from "../../src/data/epochLayout.js";
import { SeededRandom } from "../../src/data/seededRandom.js";
import type { Batch, BatcherState, BatchSource, Chunk } from "../../src/data/types.js";

/** `docs` documents with 1–5 chunks each (seeded), chunk text naming its document. */
function corpus(docs: number, seed = "corpus"): Chunk[] {
  const rng = SeededRandom.fromSeed(seed);
  const chunks: Chunk[] = [];
  for (let d = 0; d < docs; d++) {
    const n = 1 + rng.int(5);
    for (let i = 0; i < n; i++)
      chunks.push({ id: `d${d}#${i}`, docId: `d${d}`, index: i, text: `document ${d} part ${i}` });
  }
  return chunks;
}

const ids = (b: Batch) => b.chunks.map((c) => c.id);

function epochs(source: BatchSource, batchesPerEpoch: number, count: number): Batch[][] {
  return Array.from({ length: count }, () => Array.from({ length: batchesPerEpoch }, () => source.next()));
}

type Make = (
  chunks: Chunk[],
  options: { batchSize?: number; seed?: string | number },
) => BatchSource & { batchesPerEpoch: number };
const kinds: [string, Make][] = [
  ["ConsecutiveBatcher", (c, o) => new ConsecutiveBatcher(c, o)],
  ["Bm25NeighbourBatcher", (c, o) => new Bm25NeighbourBatcher(c, o)],
];

describe("epochBatchSizes", () => {
  it("cuts into full batches, keeps a remainder ≥ 2 as its own batch and merges a remainder of 1", () => {
    expect(epochBatchSizes(32, 16)).toEqual([16, 16]);
    expect(epochBatchSizes(33, 16)).toEqual([16, 17]);
    expect(epochBatchSizes(34, 16)).toEqual([16, 16, 2]);
    expect(epochBatchSizes(5, 16)).toEqual([5]);
    expect(epochBatchSizes(17, 16)).toEqual([17]);
  });
});

for (const [name, make] of kinds) {
  describe(name, () => {
    const chunks = corpus(40);

    it("shows every chunk exactly once per epoch, in batches of the planned sizes, with epoch and index set", () => {
      const b = make(chunks, { batchSize: 8, seed: 1 });
      const sizes = epochBatchSizes(chunks.length, 8);
      expect(b.batchesPerEpoch).toBe(sizes.length);
      for (const [e, epoch] of epochs(b, sizes.length, 3).entries()) {
        expect(epoch.map((x) => x.chunks.length)).toEqual(sizes);
        expect(epoch.map((x) => [x.epoch, x.index])).toEqual(sizes.map((_, i) => [e, i]));
        expect(epoch.flatMap(ids).sort()).toEqual(chunks.map((c) => c.id).sort());
      }
    });

    it("is determined by the seed, and epochs differ from each other", () => {
      const a = epochs(make(chunks, { batchSize: 8, seed: "s" }), make(chunks, { batchSize: 8 }).batchesPerEpoch, 2);
      const again = epochs(make(chunks, { batchSize: 8, seed: "s" }), a[0]!.length, 2);
      const other = epochs(make(chunks, { batchSize: 8, seed: "t" }), a[0]!.length, 2);
      expect(again.map((e) => e.map(ids))).toEqual(a.map((e) => e.map(ids)));
      expect(other[0]!.map(ids)).not.toEqual(a[0]!.map(ids));
      expect(a[1]!.map(ids)).not.toEqual(a[0]!.map(ids));
    });

    it("resumes from a JSON round-tripped cursor with exactly the batches it would have produced", () => {
      const reference = make(chunks, { batchSize: 8, seed: 3 });
      const perEpoch = reference.batchesPerEpoch;
      for (const cut of [0, 2, perEpoch - 1, perEpoch, perEpoch + 3]) {
        const first = make(chunks, { batchSize: 8, seed: 3 });
        for (let i = 0; i < cut; i++) first.next();
        const saved = JSON.parse(JSON.stringify(first.state())) as BatcherState;
        const expected = Array.from({ length: perEpoch + 2 }, () => ids(first.next()));
        const resumed = make(chunks, { batchSize: 8, seed: 999 });
        resumed.restore(saved);
        expect(
          Array.from({ length: perEpoch + 2 }, () => ids(resumed.next())),
          `cut after ${cut}`,
        ).toEqual(expected);
      }
    });

    it("refuses a cursor from other data or a position out of range", () => {
      const b = make(chunks, { batchSize: 8 });
      const state = b.state();
      expect(() => make(chunks.slice(1), { batchSize: 8 }).restore(state)).toThrow(/taken from other data or settings/);
      expect(() => make(chunks, { batchSize: 4 }).restore(state)).toThrow(/fingerprint/);
      expect(() => b.restore({ ...state, position: b.batchesPerEpoch })).toThrow(
        /state\.position must be an integer in \[0, \d+\)/,
      );
      expect(() => b.restore({ ...state, rngState: { ...state.rngState, s1: Number.NaN } })).toThrow(
        /rngState\.s1 must be a finite number/,
      );
    });

    it("validates its inputs", () => {
      expect(() => make(chunks.slice(0, 1), {})).toThrow(/need at least 2 chunks/);
      expect(() => make(chunks, { batchSize: 1 })).toThrow(/batchSize must be an integer ≥ 2, got 1/);
      expect(() => make([chunks[0]!, chunks[0]!], {})).toThrow(/chunks\[1\] repeats chunk id "d0#0"/);
    });

    it("works with two chunks (one batch per epoch)", () => {
      const b = make(chunks.slice(0, 2), { batchSize: 16 });
      expect(b.next().chunks).toHaveLength(2);
      expect(b.next().epoch).toBe(1);
    });
  });
}

describe("ConsecutiveBatcher layout", () => {
  it("keeps each document's chunks in consecutive batches and shuffles inside batches", () => {
    const chunks = corpus(60, "layout");
    const b = new ConsecutiveBatcher(chunks, { batchSize: 8, seed: 5 });
    const epoch = Array.from({ length: b.batchesPerEpoch }, () => b.next());
    const batchesOfDoc = new Map<string, number[]>();
    for (const batch of epoch) {
      for (const c of batch.chunks) {
        const list = batchesOfDoc.get(c.docId) ?? [];
        if (!list.includes(batch.index)) list.push(batch.index);
        batchesOfDoc.set(c.docId, list);
      }
    }
    for (const [doc, list] of batchesOfDoc)
      expect(list.length === 1 || list[1] === (list[0] as number) + 1, doc).toBe(true);
    // With one document's chunks laid out in order, an unshuffled batch would list them ascending.
    const inLayoutOrder = epoch.filter((batch) => {
      const positions = batch.chunks.map((c) => chunks.indexOf(c));
      return positions.every((p, i) => i === 0 || p > (positions[i - 1] as number));
    });
    expect(inLayoutOrder.length).toBeLessThan(epoch.length);
  });
});

describe("Bm25NeighbourBatcher neighbours", () => {
  it("fills batches with lexical neighbours: four topics of eight chunks give single-topic batches", () => {
    const topics = [
      ["protein", "enzyme", "cell", "membrane", "receptor"],
      ["galaxy", "star", "orbit", "telescope", "planet"],
      ["court", "judge", "verdict", "appeal", "lawyer"],
      ["recipe", "flour", "oven", "butter", "sugar"],
    ];
    const rng = SeededRandom.fromSeed("topics");
    const chunks: Chunk[] = [];
    topics.forEach((vocab, t) => {
      for (let i = 0; i < 8; i++) {
        const text = Array.from({ length: 12 }, () => vocab[rng.int(vocab.length)]).join(" ");
        chunks.push({ id: `t${t}-${i}#0`, docId: `t${t}-${i}`, index: 0, text: `the ${text} of it` });
      }
    });
    const b = new Bm25NeighbourBatcher(chunks, { batchSize: 8, seed: 2 });
    for (let i = 0; i < 8; i++) {
      const batch = b.next();
      expect(new Set(batch.chunks.map((c) => c.docId.slice(0, 2))).size, `batch ${i}`).toBe(1);
    }
  });

  it("otherDocuments: a seed's neighbours come from other documents, where same-document chunks would win", () => {
    // 16 two-chunk documents: a chunk's best BM25 match is its own document's other chunk (two shared
    // words), its second best a chunk of the next or previous document (one shared word).
    const chunks: Chunk[] = [];
    for (let d = 0; d < 16; d++) {
      chunks.push({ id: `d${d}#0`, docId: `d${d}`, index: 0, text: `alpha${d} gamma${d} beta${d}` });
      chunks.push({ id: `d${d}#1`, docId: `d${d}`, index: 1, text: `alpha${d} gamma${d} beta${(d + 1) % 16}` });
    }
    const sameDocumentBatches = (otherDocuments: boolean) => {
      const b = new Bm25NeighbourBatcher(chunks, { batchSize: 2, seed: 5, otherDocuments });
      let sameDoc = 0;
      for (let i = 0; i < 5 * b.batchesPerEpoch; i++) {
        const [x, y] = b.next().chunks;
        if (x?.docId === y?.docId) sameDoc++;
      }
      return sameDoc;
    };
    const plain = sameDocumentBatches(false);
    const other = sameDocumentBatches(true);
    expect(plain).toBeGreaterThan(60); // of 80 batches: without the option documents pair with themselves
    // With it, a document's chunks meet only when random filling puts them together (late in an epoch).
    expect(other).toBeLessThan(plain / 3);
    expect(() => new Bm25NeighbourBatcher(chunks, { otherDocuments: "yes" as unknown as boolean })).toThrow(
      /options\.otherDocuments must be true or false, got "yes"/,
    );
  });

  it("falls back to random unused chunks when BM25 finds too few", () => {
    const chunks: Chunk[] = Array.from({ length: 21 }, (_, i) => ({
      id: `u${i}#0`,
      docId: `u${i}`,
      index: 0,
      text: `unique${i}`,
    }));
    const b = new Bm25NeighbourBatcher(chunks, { batchSize: 4, seed: 0 });
    const epoch = Array.from({ length: b.batchesPerEpoch }, () => b.next());
    expect(epoch.map((x) => x.chunks.length)).toEqual([4, 4, 4, 4, 5]);
    expect(epoch.flatMap(ids).sort()).toEqual(chunks.map((c) => c.id).sort());
  });
});
