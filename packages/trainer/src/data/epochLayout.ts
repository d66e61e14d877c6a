import { createHash } from "node:crypto";
import { requireRngState } from "./seededRandom.js";
import type { BatcherState, Chunk } from "./types.js";

/**
 * Sizes of an epoch's batches for `n` chunks and batch size `b`: full batches of `b`, then the
 * remainder as its own batch — except a remainder of 1, which joins the last full batch (a batch of
 * one chunk has no other document to attend to, so its in-batch weights would be undefined). Fewer
 * than `b` chunks make one batch of all of them.
 */
export function epochBatchSizes(n: number, b: number): number[] {
  const full = Math.floor(n / b);
  const rest = n % b;
  if (full === 0) return [n];
  const sizes = new Array<number>(full).fill(b);
  if (rest === 1) sizes[full - 1] = b + 1;
  else if (rest > 1) sizes.push(rest);
  return sizes;
}

export function requireBatcherInputs(op: string, chunks: unknown, batchSize: unknown): void {
  if (!Array.isArray(chunks)) throw new Error(`${op}: chunks must be an array of chunks`);
  if (chunks.length < 2) {
    throw new Error(`${op}: need at least 2 chunks (a batch needs other chunks to attend to), got ${chunks.length}`);
  }
  if (typeof batchSize !== "number" || !Number.isInteger(batchSize) || batchSize < 2) {
    throw new Error(`${op}: options.batchSize must be an integer ≥ 2, got ${String(batchSize)}`);
  }
  const ids = new Set<string>();
  chunks.forEach((c: Partial<Chunk> | null, i) => {
    if (c === null || typeof c !== "object" || typeof c.id !== "string" || typeof c.text !== "string") {
      throw new Error(`${op}: chunks[${i}] must be a chunk {id, docId, index, text}`);
    }
    if (typeof c.docId !== "string") throw new Error(`${op}: chunks[${i}].docId must be a string (chunk ${c.id})`);
    if (ids.has(c.id)) throw new Error(`${op}: chunks[${i}] repeats chunk id ${JSON.stringify(c.id)}`);
    ids.add(c.id);
  });
}

/** Hash of what a cursor depends on: batcher kind, batch size and the chunk ids in order. */
export function batcherFingerprint(kind: string, batchSize: number, chunks: readonly Chunk[]): string {
  const hash = createHash("sha256").update(`${kind}\n${batchSize}\n`);
  for (const c of chunks) hash.update(`${c.id}\n`);
  return `${kind}:${batchSize}:${chunks.length}:${hash.digest("hex").slice(0, 16)}`;
}

export function requireBatcherState(op: string, state: unknown, fingerprint: string, batches: number): BatcherState {
  if (state === null || typeof state !== "object") throw new Error(`${op}.restore: state must be an object`);
  const s = state as Partial<BatcherState>;
  if (!Number.isInteger(s.epoch) || (s.epoch as number) < 0) {
    throw new Error(`${op}.restore: state.epoch must be a non-negative integer, got ${JSON.stringify(s.epoch)}`);
  }
  if (!Number.isInteger(s.position) || (s.position as number) < 0 || (s.position as number) >= batches) {
    throw new Error(
      `${op}.restore: state.position must be an integer in [0, ${batches}) (batches per epoch), got ${JSON.stringify(s.position)}`,
    );
  }
  requireRngState(s.rngState, `${op}.restore: state.rngState`);
  if (s.fingerprint !== fingerprint) {
    throw new Error(
      `${op}.restore: the state was taken from other data or settings (fingerprint ${JSON.stringify(s.fingerprint)}, this batcher is ${fingerprint})`,
    );
  }
  return s as BatcherState;
}
