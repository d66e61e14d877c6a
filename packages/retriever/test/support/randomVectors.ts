import type { EmbeddingMatrix } from "../../src/index.js";

/** A seeded generator (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** n unit vectors of i.i.d. normal coordinates. */
export function randomUnitVectors(n: number, d: number, seed: number): EmbeddingMatrix {
  const normal = gaussian(rng(seed));
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) fillUnit(data, i, d, () => normal());
  return { data, shape: [n, d] };
}

/**
 * n unit vectors drawn around `clusters` random centres (centre + noise·N(0, I), normalised): random
 * data with the neighbourhood structure that embeddings of real text have (topics). Queries drawn
 * from the same mixture have near neighbours, which is what approximate search exploits; i.i.d.
 * vectors in 256 dimensions have none (every point is about equally far from every other).
 */
export function clusteredUnitVectors(n: number, d: number, seed: number, clusters = 1000, noise = 1): EmbeddingMatrix {
  const centreNormal = gaussian(rng(7));
  const centres = Float32Array.from({ length: clusters * d }, centreNormal);
  const random = rng(seed);
  const normal = gaussian(random);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(random() * clusters);
    let j = 0;
    fillUnit(data, i, d, () => (centres[c * d + j++] as number) + noise * normal());
  }
  return { data, shape: [n, d] };
}

function fillUnit(data: Float32Array, row: number, d: number, next: () => number): void {
  let norm = 0;
  for (let j = 0; j < d; j++) {
    const v = next();
    data[row * d + j] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  for (let j = 0; j < d; j++) data[row * d + j]! /= norm;
}

/** Top-k by a float64 brute-force scan and a stable sort (score desc, row asc). */
export function bruteForceTopK(
  corpus: EmbeddingMatrix,
  queries: EmbeddingMatrix,
  k: number,
): { rows: number[]; scores: number[] }[] {
  const [n, d] = corpus.shape;
  const out: { rows: number[]; scores: number[] }[] = [];
  for (let q = 0; q < queries.shape[0]; q++) {
    const scores = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (queries.data[q * d + j] as number) * (corpus.data[r * d + j] as number);
      scores[r] = s;
    }
    const rows = Array.from({ length: n }, (_, i) => i)
      .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
      .slice(0, k);
    out.push({ rows, scores: rows.map((r) => scores[r] as number) });
  }
  return out;
}
