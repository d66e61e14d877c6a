/**
 * Diagnostics of the document weights W [B, B] of a batch: how peaked they are and how much mass
 * lands on chunks of the same document (the retriever finding related text).
 */
export interface WeightStats {
  meanMaxWeight: number;
  /** Mean row entropy, in nats. */
  meanEntropy: number;
  /** Mean over rows of the W mass on other chunks of the same document (rows with no such chunk excluded). */
  sameDocumentMass: number;
  /** Mean over rows of W_i,n(i), n(i) = the row's BM25 nearest chunk (when `neighbours` is given; rows with none excluded). */
  neighbourMass?: number;
}

export function weightStats(
  weights: ArrayLike<number>,
  b: number,
  docIds: readonly string[],
  neighbours?: readonly number[],
): WeightStats {
  if (weights.length !== b * b)
    throw new Error(`weightStats: weights must have ${b}×${b} values, got ${weights.length}`);
  if (docIds.length !== b) throw new Error(`weightStats: docIds must have ${b} entries, got ${docIds.length}`);
  if (neighbours !== undefined && neighbours.length !== b)
    throw new Error(`weightStats: neighbours must have ${b} entries, got ${neighbours.length}`);
  let maxSum = 0;
  let entropySum = 0;
  let sameSum = 0;
  let sameRows = 0;
  for (let i = 0; i < b; i++) {
    let max = 0;
    let entropy = 0;
    let same = 0;
    let hasSibling = false;
    for (let j = 0; j < b; j++) {
      const w = weights[i * b + j] as number;
      if (w > max) max = w;
      if (w > 0) entropy -= w * Math.log(w);
      if (j !== i && docIds[j] === docIds[i]) {
        same += w;
        hasSibling = true;
      }
    }
    maxSum += max;
    entropySum += entropy;
    if (hasSibling) {
      sameSum += same;
      sameRows++;
    }
  }
  let neighbourSum = 0;
  let neighbourRows = 0;
  neighbours?.forEach((n, i) => {
    if (n < 0 || n === i) return;
    neighbourSum += weights[i * b + n] as number;
    neighbourRows++;
  });
  return {
    ...(neighbours ? { neighbourMass: neighbourRows ? neighbourSum / neighbourRows : Number.NaN } : {}),
    meanMaxWeight: maxSum / b,
    meanEntropy: entropySum / b,
    sameDocumentMass: sameRows ? sameSum / sameRows : Number.NaN,
  };
}
