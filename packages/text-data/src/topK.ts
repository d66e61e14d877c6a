/**
 * The best `k` of a stream of (score, key) pairs, kept in a bounded binary heap whose root is the
 * worst kept pair: O(log k) per pair that enters, one comparison for one that does not, O(k)
 * memory whatever the stream's length. Higher scores rank first; equal scores are ordered by
 * `keyOrder` (negative: the first key ranks first), so that the result is deterministic and does
 * not depend on the order pairs arrive in.
 */
export class TopK<K> {
  private readonly scores: Float64Array;
  private readonly keys: K[] = [];
  private size = 0;

  constructor(
    readonly k: number,
    private readonly keyOrder: (a: K, b: K) => number,
  ) {
    if (!Number.isInteger(k) || k < 0) throw new Error(`TopK: k must be a non-negative integer, got ${String(k)}`);
    if (typeof keyOrder !== "function") throw new Error("TopK: keyOrder must be a function (a, b) => number");
    this.scores = new Float64Array(k);
  }

  /** Pairs held (at most k). */
  get count(): number {
    return this.size;
  }

  /**
   * The score a pair must reach to have a chance to enter (−∞ until k pairs are held): a cheap
   * pre-test before building its key. A pair scoring exactly this enters only if its key ranks first.
   */
  get threshold(): number {
    return this.size < this.k ? Number.NEGATIVE_INFINITY : (this.scores[0] as number);
  }

  offer(score: number, key: K): void {
    if (this.size < this.k) {
      // Sift up: move the hole towards the root while the parent ranks before the new pair.
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.ranksAfter(score, key, this.scores[parent] as number, this.keys[parent] as K)) break;
        this.scores[i] = this.scores[parent] as number;
        this.keys[i] = this.keys[parent] as K;
        i = parent;
      }
      this.scores[i] = score;
      this.keys[i] = key;
      return;
    }
    if (this.k === 0 || !this.ranksAfter(this.scores[0] as number, this.keys[0] as K, score, key)) return;
    // Replace the root (the worst held pair) and sift down.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child =
        right < this.size &&
        this.ranksAfter(
          this.scores[right] as number,
          this.keys[right] as K,
          this.scores[left] as number,
          this.keys[left] as K,
        )
          ? right
          : left;
      if (!this.ranksAfter(this.scores[child] as number, this.keys[child] as K, score, key)) break;
      this.scores[i] = this.scores[child] as number;
      this.keys[i] = this.keys[child] as K;
      i = child;
    }
    this.scores[i] = score;
    this.keys[i] = key;
  }

  /** The held pairs, best first. */
  sorted(): { scores: number[]; keys: K[] } {
    const order = Array.from({ length: this.size }, (_, i) => i).sort(
      (a, b) =>
        (this.scores[b] as number) - (this.scores[a] as number) || this.keyOrder(this.keys[a] as K, this.keys[b] as K),
    );
    return { scores: order.map((i) => this.scores[i] as number), keys: order.map((i) => this.keys[i] as K) };
  }

  /** Whether (s1, k1) ranks after (s2, k2). */
  private ranksAfter(s1: number, k1: K, s2: number, k2: K): boolean {
    return s1 < s2 || (s1 === s2 && this.keyOrder(k1, k2) > 0);
  }
}
