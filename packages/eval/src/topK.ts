import type { Hit } from "./run.js";
import { compareBytewise } from "./trecOrder.js";

/**
 * The best `k` of a stream of (document, score) pairs in trec_eval order, kept in a bounded binary
 * heap whose root is the worst kept pair: O(log k) per offered pair, O(k) memory. Because equal
 * scores are ordered by document id, the result does not depend on the order documents arrive in
 * (so not on chunk size either).
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly ids: string[] = [];
  private size = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
  }

  /** Whether a pair with this score could enter (a cheap pre-test before building the id). */
  admits(score: number): boolean {
    return this.size < this.k || score >= (this.scores[0] as number);
  }

  offer(docId: string, score: number): void {
    if (this.size < this.k) {
      let i = this.size++;
      // Sift up: move the hole towards the root while the parent is better than the new pair.
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(docId, score, parent)) break;
        this.scores[i] = this.scores[parent] as number;
        this.ids[i] = this.ids[parent] as string;
        i = parent;
      }
      this.scores[i] = score;
      this.ids[i] = docId;
      return;
    }
    if (this.k === 0 || this.worse(docId, score, 0)) return;
    // Replace the root and sift down.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && this.worseAt(right, left) ? right : left;
      if (!this.worseAt(child, -1, docId, score)) break;
      this.scores[i] = this.scores[child] as number;
      this.ids[i] = this.ids[child] as string;
      i = child;
    }
    this.scores[i] = score;
    this.ids[i] = docId;
  }

  /** The kept pairs, best first. */
  hits(): Hit[] {
    const out: Hit[] = [];
    for (let i = 0; i < this.size; i++) out.push({ docId: this.ids[i] as string, score: this.scores[i] as number });
    return out.sort((a, b) => b.score - a.score || compareBytewise(b.docId, a.docId));
  }

  /** Whether (docId, score) ranks below the pair at heap slot `j`. */
  private worse(docId: string, score: number, j: number): boolean {
    const other = this.scores[j] as number;
    return score < other || (score === other && compareBytewise(docId, this.ids[j] as string) < 0);
  }

  /** Whether slot `a` ranks below slot `b` (or below the given pair when `b` is −1). */
  private worseAt(a: number, b: number, docId?: string, score?: number): boolean {
    const bScore = b < 0 ? (score as number) : (this.scores[b] as number);
    const bId = b < 0 ? (docId as string) : (this.ids[b] as string);
    const aScore = this.scores[a] as number;
    return aScore < bScore || (aScore === bScore && compareBytewise(this.ids[a] as string, bId) < 0);
  }
}
