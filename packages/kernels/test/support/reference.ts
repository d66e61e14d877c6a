/** Plain-TypeScript float64 references and helpers shared by the spec files. */

export function size(shape: readonly number[]): number {
  return shape.reduce((p, s) => p * s, 1);
}

/** Deterministic values in [-1, 1) from a small LCG: the same on every backend and run. */
export function seededValues(shape: readonly number[], seed: number, scale = 1): Float32Array {
  let state = (seed * 2654435761) >>> 0;
  const out = new Float32Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = scale * (2 * (state / 2 ** 32) - 1);
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

/** Batched matmul with tfjs semantics (batch broadcast when one side has batch 1), in float64. */
export function float64MatMul(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): { values: Float64Array; shape: number[] } {
  const ra = aShape.length;
  const rb = bShape.length;
  const m = transposeA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const k = transposeA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const n = transposeB ? bShape[rb - 2]! : bShape[rb - 1]!;
  const outerA = aShape.slice(0, -2);
  const outerB = bShape.slice(0, -2);
  const outer = outerA.length >= outerB.length ? outerA : outerB;
  const batchA = size(outerA);
  const batchB = size(outerB);
  const batch = Math.max(batchA, batchB);
  const values = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const ao = (batchA === 1 ? 0 : t) * m * k;
    const bo = (batchB === 1 ? 0 : t) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = transposeA ? a[ao + p * m + i]! : a[ao + i * k + p]!;
          const bv = transposeB ? b[bo + j * k + p]! : b[bo + p * n + j]!;
          s += av * bv;
        }
        values[t * m * n + i * n + j] = s;
      }
    }
  }
  return { values, shape: [...outer, m, n] };
}
