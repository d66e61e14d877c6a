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

/** n unit vectors [n, d] of i.i.d. normal coordinates, row-major. */
export function unitVectors(n: number, d: number, seed: number): Float32Array[] {
  const random = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: d }, normal);
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    return v.map((x) => x / norm);
  });
}

/** Top-k ids by float64 inner product, ties by larger id first (trec_eval order). */
export function bruteForce(
  query: Float32Array,
  rows: Float32Array[],
  ids: string[],
  k: number,
): { id: string; score: number }[] {
  const scored = rows.map((row, i) => {
    let dot = 0;
    for (let d = 0; d < row.length; d++) dot += (query[d] as number) * (row[d] as number);
    return { id: ids[i] as string, score: dot };
  });
  scored.sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return scored.slice(0, k);
}

/** A RetrieverIdentity for tests that need none of a real retriever (hash: 64 hex digits from `seed`). */
export function fakeIdentity(dimensions: number, seed = 1): { id: string; hash: string; dimensions: number } {
  return { id: `fake-${seed}`, hash: seed.toString(16).padStart(64, "0"), dimensions };
}
