/**
 * A row-major float32 matrix of embeddings: row i is `data[i·d .. (i+1)·d)`. The currency between
 * the encoder and the indexes — plain typed arrays, so millions of rows never touch tfjs.
 */
export interface EmbeddingMatrix {
  /** Row-major [n, d]. */
  data: Float32Array;
  shape: [number, number];
}

/** Throws unless `m` is an EmbeddingMatrix whose data length matches its shape (and `dimensions`, if given). */
export function checkMatrix(op: string, what: string, m: unknown, dimensions?: number): asserts m is EmbeddingMatrix {
  if (typeof m !== "object" || m === null)
    throw new Error(`${op}: ${what} must be { data: Float32Array, shape: [n, d] }`);
  const { data, shape } = m as Partial<EmbeddingMatrix>;
  if (!(data instanceof Float32Array)) throw new Error(`${op}: ${what}.data must be a Float32Array`);
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new Error(`${op}: ${what}.shape must be [n, d] of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const [n, d] = shape as [number, number];
  if (d < 1) throw new Error(`${op}: ${what}.shape is [${n}, ${d}]; d must be ≥ 1`);
  if (data.length !== n * d) {
    throw new Error(`${op}: ${what}.data has ${data.length} values, but shape [${n}, ${d}] needs ${n * d}`);
  }
  if (dimensions !== undefined && d !== dimensions) {
    throw new Error(`${op}: ${what} has ${d} dimensions, but the index holds ${dimensions}-dimensional vectors`);
  }
}

/** Throws unless `ids` is an array of `n` strings. */
export function checkIds(op: string, ids: unknown, n: number): asserts ids is string[] {
  if (!Array.isArray(ids)) throw new Error(`${op}: ids must be an array of strings`);
  if (ids.length !== n) throw new Error(`${op}: ${ids.length} ids for ${n} rows`);
  ids.forEach((id, i) => {
    if (typeof id !== "string") throw new Error(`${op}: ids[${i}] must be a string, got ${typeof id}`);
  });
}

/** Throws unless k is a positive integer. */
export function checkK(op: string, k: unknown): asserts k is number {
  if (!Number.isSafeInteger(k) || (k as number) < 1) throw new Error(`${op}: k must be a positive integer, got ${k}`);
}
