import { size } from "@revela/test-numerics";

export { maxAbsDiff, seededValues, size } from "@revela/test-numerics";

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
