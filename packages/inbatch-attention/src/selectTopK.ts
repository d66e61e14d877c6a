/**
 * Indices of the k largest entries of each row of a [rows, cols] matrix, largest first; ties go to
 * the lower column index. Done in plain JS on purpose: the choice is not differentiated, and tf.topk's
 * tie order is not specified across backends — with τ = 1e-4 many weights are exactly 0 and tie.
 */
export function selectTopK(values: ArrayLike<number>, rows: number, cols: number, k: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let i = 0; i < rows; i++) {
    const order = Array.from({ length: cols }, (_, c) => c);
    const at = (c: number) => {
      const x = values[i * cols + c] as number;
      return Number.isNaN(x) ? Number.NEGATIVE_INFINITY : x;
    };
    order.sort((a, b) => at(b) - at(a) || a - b);
    out.push(Int32Array.from(order.slice(0, k)));
  }
  return out;
}
