/**
 * (query chunk i, key chunk j) pairs visited together in one batched step: the pairs' products run
 * as one [P, Hkv, rep·L, D] × [P, Hkv, L, D]ᵀ product instead of P small ones, and P ≤ B keeps a
 * step's scores at [B, Hkv, rep·L, L] = B·H·L² floats, the streaming memory bound.
 */
export interface PairGroup {
  /** Query chunk of each pair. */
  i: Int32Array;
  /** Key chunk of each pair. */
  j: Int32Array;
  /** W_ij of each pair. */
  w: Float32Array;
  /** i is exactly 0 … B−1: queries and cotangents are used as they are, no gather or scatter. */
  everyRowOnce: boolean;
}

/**
 * The pairs of a [B, B] W that `select` accepts, grouped at most B to a group. Pairs are laid out
 * "slot by slot" — every row's first selected pair, then every row's second, … — so that a one-hot
 * W (one pair per row, τ = 1e-4) is exactly one group with every row once.
 */
export function pairGroups(w: ArrayLike<number>, b: number, select: (wij: number) => boolean): PairGroup[] {
  const perRow: number[][] = Array.from({ length: b }, (_, i) => {
    const js: number[] = [];
    for (let j = 0; j < b; j++) if (select(w[i * b + j] as number)) js.push(j);
    return js;
  });
  const pairs: [number, number][] = [];
  const slots = Math.max(0, ...perRow.map((js) => js.length));
  for (let s = 0; s < slots; s++) {
    perRow.forEach((js, i) => {
      if (s < js.length) pairs.push([i, js[s] as number]);
    });
  }
  const groups: PairGroup[] = [];
  for (let start = 0; start < pairs.length; start += b) {
    const chunk = pairs.slice(start, start + b);
    const i = Int32Array.from(chunk, ([row]) => row);
    groups.push({
      i,
      j: Int32Array.from(chunk, ([, col]) => col),
      w: Float32Array.from(chunk, ([row, col]) => w[row * b + col] as number),
      everyRowOnce: i.length === b && i.every((row, m) => row === m),
    });
  }
  return groups;
}
