/** Number of elements of a shape. */
export function size(shape: readonly number[]): number {
  return shape.reduce((p, s) => p * s, 1);
}

/** Deterministic values in [-scale, scale) from a small LCG: the same on every backend and run. */
export function seededValues(shape: readonly number[], seed: number, scale = 1): Float32Array {
  let state = (seed * 2654435761) >>> 0;
  const out = new Float32Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = scale * (2 * (state / 2 ** 32) - 1);
  }
  return out;
}
