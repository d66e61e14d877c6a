import type { Hit } from "./run.js";

/**
 * Compares two strings as C's strcmp compares their UTF-8 bytes, which is code-point order.
 * JavaScript's `<` compares UTF-16 code units, which disagrees for characters above U+FFFF against
 * U+E000–U+FFFF; shifting code units as below restores code-point order without decoding.
 */
export function compareBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * trec_eval's ranking order (form_res_rels.c, comp_sim_docno): higher score first; equal scores put
 * the lexicographically *larger* document id first. The rank column of a run file is ignored.
 * Negative when `a` ranks before `b`.
 */
export function compareTrecOrder(a: Hit, b: Hit): number {
  if (a.score > b.score) return -1;
  if (a.score < b.score) return 1;
  return compareBytewise(b.docId, a.docId);
}

/** Whether `hits` is already in trec_eval order (a linear check that saves most sorts). */
export function isInTrecOrder(hits: readonly Hit[]): boolean {
  for (let i = 1; i < hits.length; i++) {
    if (compareTrecOrder(hits[i - 1] as Hit, hits[i] as Hit) > 0) return false;
  }
  return true;
}

/** `hits` in trec_eval order; returns the input itself when it is already ordered. */
export function inTrecOrder(hits: readonly Hit[]): readonly Hit[] {
  return isInTrecOrder(hits) ? hits : [...hits].sort(compareTrecOrder);
}
