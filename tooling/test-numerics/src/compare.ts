type Values = ArrayLike<number>;

/** max |a − b|; NaN anywhere gives Infinity, so a NaN never passes a tolerance. */
export function maxAbsDiff(a: Values, b: Values): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

/** Largest |value|; used to check that a gradient under test is not trivially zero. */
export function maxAbs(values: Values): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i] as number));
  return m;
}

/**
 * max |actual − expected| divided by max(1, max |expected|): an absolute error for values of order
 * one and below, a relative one for larger values. NaN anywhere gives Infinity.
 */
export function scaledMaxError(actual: Values, expected: Values): number {
  if (actual.length !== expected.length) {
    throw new Error(`scaledMaxError: lengths differ (${actual.length} vs ${expected.length})`);
  }
  return maxAbsDiff(actual, expected) / Math.max(1, maxAbs(expected));
}
