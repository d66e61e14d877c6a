/**
 * A 32-bit integer finaliser (lowbias32): consecutive inputs give unrelated outputs. The seed
 * derivations and the counter-based dropout masks hash with it, so that every random choice is a
 * pure function of its coordinates.
 */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
