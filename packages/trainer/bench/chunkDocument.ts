import { emit, timeMedian } from "@revela/bench";
import { chunkDocument } from "../src/data/chunkDocument.js";

/**
 * Throughput of chunkDocument (MB of text per second) on one document of 1, 10 and 20 MB of prose,
 * and, as the baseline in the same run, the chunker before windowed segmentation (the whole text
 * through one Intl.Segmenter, `rest.slice` cuts) at 1 MB — it took 52 s there and did not finish
 * 20 MB. JSON lines in the repository's schema.
 */

/** Deterministic prose: short sentences with abbreviations, numbers and paragraph breaks. */
function prose(bytes: number): string {
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
    "quoted",
    "naive",
    "data",
  ];
  const ends = [". ", "! ", "? ", ".\n\n", "; ", " "];
  const parts: string[] = [];
  let length = 0;
  let state = 1;
  while (length < bytes) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const word = vocab[state % vocab.length] as string;
    const part = (state >>> 8) % 100 < 8 ? `${word}${ends[(state >>> 16) % ends.length]}` : `${word} `;
    parts.push(part);
    length += part.length;
  }
  return parts.join("");
}

/** The chunker as it was (whole-text segmentation, slicing long sentences): the baseline. */
function wholeTextChunks(text: string, maxWords: number): number {
  const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });
  const words = [...text.matchAll(/\S+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
  const sentences: (typeof words)[] = [];
  let current: typeof words = [];
  let w = 0;
  for (const segment of segmenter.segment(text)) {
    const boundary = segment.index + segment.segment.length;
    while (w < words.length && (words[w] as (typeof words)[0]).end <= boundary)
      current.push(words[w++] as (typeof words)[0]);
    if (current.length > 0 && (w === words.length || (words[w] as (typeof words)[0]).start >= boundary)) {
      sentences.push(current);
      current = [];
    }
  }
  if (current.length > 0) sentences.push(current);
  let chunks = 0;
  let chunk = 0;
  for (const sentence of sentences) {
    if (chunk + sentence.length <= maxWords) {
      chunk += sentence.length;
      continue;
    }
    if (chunk > 0) chunks++;
    let rest = sentence;
    while (rest.length > maxWords) {
      chunks++;
      rest = rest.slice(maxWords);
    }
    chunk = rest.length;
  }
  return chunks + (chunk > 0 ? 1 : 0);
}

const maxWords = 120;
const megabyte = 1e6;
let windowedAt1 = 0;
for (const mb of [1, 10, 20]) {
  const text = prose(mb * megabyte);
  const runs = mb === 1 ? 5 : 3;
  const ms = await timeMedian(() => chunkDocument({ id: "doc", text }, { maxWords }), 1, runs);
  const value = text.length / megabyte / (ms / 1000);
  if (mb === 1) windowedAt1 = value;
  emit({
    bench: "trainer/chunkDocument",
    case: `${mb}MB`,
    impl: "revela",
    metric: "throughput",
    value: Number(value.toFixed(3)),
    unit: "MB/s",
    params: { bytes: text.length, maxWords, runs },
  });
}
const text = prose(megabyte);
const baselineMs = await timeMedian(() => wholeTextChunks(text, maxWords), 0, 1);
const baseline = text.length / megabyte / (baselineMs / 1000);
emit({
  bench: "trainer/chunkDocument",
  case: "1MB",
  impl: "whole-text-segmenter",
  metric: "throughput",
  value: Number(baseline.toFixed(3)),
  unit: "MB/s",
  params: { bytes: text.length, maxWords, runs: 1 },
});
emit({
  bench: "trainer/chunkDocument",
  case: "1MB",
  impl: "revela",
  metric: "speedup",
  value: Number((windowedAt1 / baseline).toFixed(1)),
  unit: "x",
  baseline: "whole-text-segmenter",
});
