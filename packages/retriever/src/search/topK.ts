/**
 * The k best (score, row) pairs seen so far, in a bounded min-heap: memory is O(k) whatever the
 * number of rows offered, and a row worse than the current k-th costs one comparison.
 *
 * Order: higher score first; equal scores → lower row first (so results are deterministic and
 * match a stable sort of the brute-force scores).
 */
export class TopK {
  private readonly scores: Float32Array;
  private readonly rows: Float64Array; // row numbers can pass 2³² in a streamed corpus
  private count = 0;

  constructor(readonly k: number) {
    this.scores = new Float32Array(k);
    this.rows = new Float64Array(k);
  }

  /** The score a new row must beat to enter (−∞ until k rows are held). */
  get threshold(): number {
    return this.count < this.k ? Number.NEGATIVE_INFINITY : (this.scores[0] as number);
  }

  /** Offers one row; rows must be offered in increasing row order for the tie rule to hold. */
  push(score: number, row: number): void {
    if (this.count < this.k) {
      // Sift up: the root is the worst held pair.
      let i = this.count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(score, row, parent)) break;
        this.scores[i] = this.scores[parent] as number;
        this.rows[i] = this.rows[parent] as number;
        i = parent;
      }
      this.scores[i] = score;
      this.rows[i] = row;
      return;
    }
    // Full: enter only if strictly better than the root (an equal score with a later row loses).
    if (!(score > (this.scores[0] as number))) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.k) break;
      const right = left + 1;
      const child = right < this.k && this.worseAt(right, left) ? right : left;
      if (!this.worse(this.scores[child] as number, this.rows[child] as number, -1, score, row)) break;
      this.scores[i] = this.scores[child] as number;
      this.rows[i] = this.rows[child] as number;
      i = child;
    }
    this.scores[i] = score;
    this.rows[i] = row;
  }

  /** The held pairs, best first. */
  sorted(): { scores: Float32Array; rows: number[] } {
    const order = Array.from({ length: this.count }, (_, i) => i).sort(
      (a, b) =>
        (this.scores[b] as number) - (this.scores[a] as number) || (this.rows[a] as number) - (this.rows[b] as number),
    );
    return {
      scores: Float32Array.from(order, (i) => this.scores[i] as number),
      rows: order.map((i) => this.rows[i] as number),
    };
  }

  /** Whether (score, row) is worse than the pair at `at` (or than (s2, r2) when at < 0). */
  private worse(score: number, row: number, at: number, s2?: number, r2?: number): boolean {
    const s = at < 0 ? (s2 as number) : (this.scores[at] as number);
    const r = at < 0 ? (r2 as number) : (this.rows[at] as number);
    return score < s || (score === s && row > r);
  }

  private worseAt(a: number, b: number): boolean {
    return this.worse(this.scores[a] as number, this.rows[a] as number, b);
  }
}
