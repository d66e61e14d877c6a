import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddingMatrix,
  EmbeddingsReader,
  EmbeddingsWriter,
  ExactIndex,
  loadEmbeddings,
  type SearchResult,
  saveEmbeddings,
} from "../../src/index.js";
import { bruteForceTopK, randomUnitVectors } from "../support/randomVectors.js";

let scratch: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm" });
  scratch = await mkdtemp(join(tmpdir(), "revela-exact-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const N = 3000;
const D = 48;
const corpus = randomUnitVectors(N, D, 1);
const queries = randomUnitVectors(25, D, 2);
const ids = Array.from({ length: N }, (_, i) => `doc-${i}`);

/** Same hits as a float64 brute force; a swap is allowed only between scores closer than float32 noise. */
function expectMatchesBruteForce(result: SearchResult, expected: ReturnType<typeof bruteForceTopK>): void {
  expect(result.ids).toHaveLength(expected.length);
  expected.forEach((e, q) => {
    const got = result.ids[q]!;
    expect(got).toHaveLength(e.rows.length);
    e.rows.forEach((row, j) => {
      expect(result.scores[q]![j]).toBeCloseTo(e.scores[j]!, 5);
      if (got[j] !== ids[row])
        expect(Math.abs(e.scores[j]! - e.scores[j + 1 < e.scores.length ? j + 1 : j - 1]!)).toBeLessThan(1e-5);
    });
  });
}

describe("ExactIndex", () => {
  it("finds the brute-force top-k, whatever the block size", async () => {
    const expected = bruteForceTopK(corpus, queries, 10);
    for (const blockRows of [8192, 1000, 7]) {
      const index = new ExactIndex(D, { blockRows });
      index.add(ids.slice(0, 1234), { data: corpus.data.subarray(0, 1234 * D), shape: [1234, D] });
      index.add(ids.slice(1234), { data: corpus.data.subarray(1234 * D), shape: [N - 1234, D] });
      expect(index.size).toBe(N);
      expectMatchesBruteForce(await index.search(queries, 10), expected);
    }
  });

  it("returns every row when k exceeds the size, and nothing from an empty index", async () => {
    const small = new ExactIndex(D);
    small.add(["a", "b", "c"], { data: corpus.data.slice(0, 3 * D), shape: [3, D] });
    const result = await small.search(queries, 10);
    expect(result.ids.every((row) => row.length === 3 && new Set(row).size === 3)).toBe(true);
    const empty = await new ExactIndex(D).search(queries, 5);
    expect(empty.ids.every((row) => row.length === 0)).toBe(true);
  });

  it("leaks no tensors", async () => {
    const index = new ExactIndex(D, { blockRows: 500 });
    index.add(ids, corpus);
    const before = tf.memory().numTensors;
    await index.search(queries, 3);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("saves and loads, and streams a file with bounded blocks, with the same results", async () => {
    const file = join(scratch, "corpus.rvlemb");
    const index = new ExactIndex(D);
    index.add(ids, corpus);
    await index.save(file);
    const expected = await index.search(queries, 10);
    const loaded = await ExactIndex.load(file);
    expect(loaded.size).toBe(N);
    expect(await loaded.search(queries, 10)).toEqual(expected);
    const streamed = await ExactIndex.open(file, { blockRows: 256 });
    expect(streamed.fileBacked).toBe(true);
    expect(await streamed.search(queries, 10)).toEqual(expected);
    expect(() => streamed.add(["x"], { data: new Float32Array(D), shape: [1, D] })).toThrow(/read-only/);
    await streamed.close();
  });

  it("fails naming the problem", async () => {
    const index = new ExactIndex(D);
    index.add(["a"], { data: new Float32Array(D), shape: [1, D] });
    expect(() => index.add(["a"], { data: new Float32Array(D), shape: [1, D] })).toThrow(
      /ids\[0\] = "a" is already in the index/,
    );
    expect(() => index.add(["b"], { data: new Float32Array(D + 1), shape: [1, D + 1] })).toThrow(
      /has 49 dimensions, but the index holds 48/,
    );
    expect(() => index.add(["b", "c"], { data: new Float32Array(D), shape: [1, D] })).toThrow(/2 ids for 1 rows/);
    expect(() => index.add(["b"], { data: new Float32Array(D), shape: [2, D] })).toThrow(
      /has 48 values, but shape \[2, 48\] needs 96/,
    );
    await expect(index.search(queries, 0)).rejects.toThrow(/k must be a positive integer/);
    await expect(index.search({ data: [1, 2] as unknown as Float32Array, shape: [1, 2] }, 1)).rejects.toThrow(
      /queries.data must be a Float32Array/,
    );
  });
});

describe("embeddings files", () => {
  const small: EmbeddingMatrix = { data: Float32Array.from({ length: 12 }, (_, i) => i / 7), shape: [4, 3] };

  it("round-trip ids and values exactly, also when written block by block", async () => {
    const file = join(scratch, "small.rvlemb");
    await saveEmbeddings(file, ["α", "b", "c", "d"], small);
    expect(await loadEmbeddings(file)).toEqual({ ids: ["α", "b", "c", "d"], matrix: small });
    const blocks = join(scratch, "blocks.rvlemb");
    const writer = await EmbeddingsWriter.create(blocks, 3);
    await writer.append(["α", "b"], { data: small.data.slice(0, 6), shape: [2, 3] });
    await writer.append(["c", "d"], { data: small.data.slice(6), shape: [2, 3] });
    await expect(writer.append(["b"], { data: new Float32Array(3), shape: [1, 3] })).rejects.toThrow(
      /"b" is already in/,
    );
    await writer.close();
    expect(await readFile(blocks)).toEqual(await readFile(file));
    const reader = await EmbeddingsReader.open(file);
    expect(await reader.readRows(1, 2)).toEqual({ data: small.data.slice(3, 9), shape: [2, 3] });
    await expect(reader.readRows(3, 2)).rejects.toThrow(/outside 0..4/);
    await reader.close();
  });

  it("refuse truncated, foreign and future-version files and duplicate ids, naming the file", async () => {
    const file = join(scratch, "good.rvlemb");
    await saveEmbeddings(file, ["a", "b", "c", "d"], small);
    const bytes = await readFile(file);
    const truncated = join(scratch, "truncated.rvlemb");
    await writeFile(truncated, bytes.subarray(0, bytes.length - 3));
    await expect(loadEmbeddings(truncated)).rejects.toThrow(/truncated\.rvlemb: is \d+ bytes, the header says \d+/);
    const foreign = join(scratch, "foreign.rvlemb");
    await writeFile(foreign, Buffer.alloc(100, 1));
    await expect(loadEmbeddings(foreign)).rejects.toThrow(/foreign\.rvlemb: not a Revela embeddings file/);
    const future = join(scratch, "future.rvlemb");
    const copy = Buffer.from(bytes);
    copy.writeUInt32LE(2, 8);
    await writeFile(future, copy);
    await expect(loadEmbeddings(future)).rejects.toThrow(/future\.rvlemb: format version 2; this code reads version 1/);
    await expect(loadEmbeddings(join(scratch, "missing.rvlemb"))).rejects.toThrow(/missing\.rvlemb: cannot open/);
    // Duplicate ids (the writer refuses them; a file from elsewhere may have them): "b" twice, same length.
    const duplicate = join(scratch, "duplicate.rvlemb");
    const ids = Buffer.from(JSON.stringify(["a", "b", "c", "d"]));
    const at = bytes.lastIndexOf(ids);
    expect(at).toBeGreaterThan(0);
    const twice = Buffer.from(bytes);
    Buffer.from(JSON.stringify(["a", "b", "b", "d"])).copy(twice, at);
    await writeFile(duplicate, twice);
    await expect(loadEmbeddings(duplicate)).rejects.toThrow(
      /duplicate\.rvlemb: id "b" names rows 1 and 2; ids must be unique/,
    );
  });
});
