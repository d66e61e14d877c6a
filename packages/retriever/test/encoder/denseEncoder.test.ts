import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Retriever } from "../../src/index.js";
import { CORPUS, llama3, tinyRetriever } from "../support/tinyRetriever.js";

let retriever: Retriever;
beforeAll(async () => {
  retriever = await tinyRetriever();
});

function row(m: { data: Float32Array; shape: [number, number] }, i: number): Float32Array {
  const d = m.shape[1];
  return m.data.subarray(i * d, (i + 1) * d);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe("DenseEncoder.tokenize", () => {
  it("tokenizes prefix + text together and appends EOS", async () => {
    const base = await llama3();
    const tok = retriever.tokenizer;
    const ids = retriever.encoder.tokenize("Paris is the capital of France.", "query");
    const expected = [...tok.encode("query: Paris is the capital of France."), tok.eosTokenId];
    expect(ids).toEqual(expected);
    // Joint tokenization differs from prefix-then-text ("query: " ends in a space that merges).
    expect(base.encode("query: Paris").length).toBeLessThan(
      base.encode("query: ").length + base.encode("Paris").length,
    );
    expect(retriever.encoder.tokenize("A short one.", "passage")).toEqual([
      ...tok.encode("passage: A short one."),
      tok.eosTokenId,
    ]);
  });

  it("query view is the official collator's: the first ⌊0.5·len⌋ ids of BOS + prefix + text, then EOS", () => {
    const tok = retriever.tokenizer;
    const text = CORPUS[3] as string;
    const full = tok.encode(`query: ${text}`);
    const view = retriever.encoder.tokenize(text, "query", { queryView: true });
    // The ratio applies to the whole sequence (prefix included), not to the text's own tokens.
    expect(view).toEqual([...full.slice(0, Math.floor(full.length / 2)), tok.eosTokenId]);
  });

  it("query view halves after truncation to maxLength − 1, as the collator truncates before halving", async () => {
    const short = await tinyRetriever({ maxLength: 8 });
    const full = short.tokenizer.encode(`query: ${CORPUS[3] as string}`);
    expect(full.length).toBeGreaterThan(7);
    const view = short.encoder.tokenize(CORPUS[3] as string, "query", { queryView: true });
    expect(view).toEqual([...full.slice(0, 3), short.tokenizer.eosTokenId]); // ⌊7 / 2⌋ = 3
  });

  it("takes a per-call maxLength (training views) and refuses a bad one", () => {
    const ids = retriever.encoder.tokenize(CORPUS[3] as string, "passage", { maxLength: 5 });
    expect(ids).toEqual([
      ...retriever.tokenizer.encode(`passage: ${CORPUS[3] as string}`).slice(0, 4),
      retriever.tokenizer.eosTokenId,
    ]);
    expect(() => retriever.encoder.tokenize("x", "passage", { maxLength: 1 })).toThrow(
      /maxLength must be an integer ≥ 2, got 1/,
    );
  });

  it("truncates so that EOS still fits in maxLength", async () => {
    const short = await tinyRetriever({ maxLength: 6 });
    const ids = short.encoder.tokenize(CORPUS[3] as string, "passage");
    expect(ids).toHaveLength(6);
    expect(ids[5]).toBe(short.tokenizer.eosTokenId);
  });
});

describe("DenseEncoder.encode", () => {
  it("gives the same vector for a text whatever its batch, padding or position", async () => {
    const alone = await Promise.all(CORPUS.map((t) => retriever.encodePassages([t])));
    const together = await retriever.encodePassages(CORPUS, { batchSize: 4 });
    const reversed = await retriever.encodePassages([...CORPUS].reverse(), { batchSize: 3 });
    const n = CORPUS.length;
    for (let i = 0; i < n; i++) {
      const single = row(alone[i]!, 0);
      expect(maxAbsDiff(single, row(together, i))).toBeLessThan(1e-5);
      expect(maxAbsDiff(single, row(reversed, n - 1 - i))).toBeLessThan(1e-5);
    }
    // …and different texts give clearly different vectors (so the comparison above means something).
    expect(maxAbsDiff(row(together, 0), row(together, 1))).toBeGreaterThan(1e-2);
  });

  it("returns L2-normalised rows in input order with their shape, and reports progress", async () => {
    const progress: [number, number][] = [];
    const m = await retriever.encodeQueries(CORPUS, {
      batchSize: 4,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(m.shape).toEqual([CORPUS.length, 32]);
    for (let i = 0; i < CORPUS.length; i++) {
      const v = row(m, i);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    }
    expect(progress).toEqual([
      [4, 6],
      [6, 6],
    ]);
    const empty = await retriever.encodePassages([]);
    expect(empty.shape).toEqual([0, 32]);
  });

  it("matches embed on the same ids, and normalize: false keeps the raw pooled state", async () => {
    const raw = await tinyRetriever({ normalize: false });
    const ids = raw.encoder.tokenize(CORPUS[0] as string, "passage");
    const { inputIds, attentionMask } = raw.encoder.batchTensors([ids]);
    const embedded = raw.encoder.embed(inputIds, attentionMask).dataSync() as Float32Array;
    const encoded = await raw.encodePassages([CORPUS[0] as string]);
    expect(maxAbsDiff(embedded, encoded.data)).toBeLessThan(1e-5);
    expect(Math.hypot(...embedded)).not.toBeCloseTo(1, 2);
  });

  it("embed is differentiable with respect to the backbone and leaks no tensors", () => {
    const enc = retriever.encoder;
    const { inputIds, attentionMask } = enc.batchTensors(CORPUS.slice(0, 3).map((t) => enc.tokenize(t, "passage")));
    const loss = () => tf.sum(tf.square(tf.sub(enc.embed(inputIds, attentionMask), 0.1))) as tf.Scalar;
    tf.dispose(loss()); // caches the rotary tables for this length
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(loss);
    expect(Object.keys(grads).length).toBeGreaterThan(5);
    const largest = tf.tidy(
      () => tf.max(tf.abs(grads[enc.backbone.params.get("model.embed_tokens.weight")!.name]!)).dataSync()[0],
    );
    expect(largest).toBeGreaterThan(0);
    tf.dispose([value, grads]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("fails naming the problem", async () => {
    await expect(retriever.encodePassages(["ok", 3 as unknown as string])).rejects.toThrow(
      /texts\[1\] must be a string/,
    );
    await expect(retriever.encoder.encode(["x"], { kind: "doc" as "query" })).rejects.toThrow(
      /kind must be "query" or "passage"/,
    );
    await expect(retriever.encodePassages(["x"], { batchSize: 0 })).rejects.toThrow(
      /batchSize must be a positive integer/,
    );
    expect(() => retriever.encoder.batchTensors([])).toThrow(/non-empty array/);
    await expect(tinyRetriever({ pooling: "max" as "eos" })).rejects.toThrow(/pooling must be one of eos, mean, first/);
    await expect(tinyRetriever({ maxLength: 1000 })).rejects.toThrow(
      /maxLength 1000 exceeds the backbone's max_position_embeddings 128/,
    );
  });
});
