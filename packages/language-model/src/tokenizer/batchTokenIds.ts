/**
 * Turning token-id sequences into one padded, row-major [B, L] batch with an attention mask: the
 * part of batch encoding that does not depend on how text became ids, shared by the plain and the
 * compacted tokenizer (and usable directly, e.g. for a "first half of the tokens" query view).
 */

export interface BatchOptions {
  /** Longest row, EOS included. At least 2, so that a truncated row still has a real token before its EOS. */
  maxLength: number;
  /** Append EOS to every row (default true); truncation keeps room for it (maxLength − 1 tokens, then EOS). */
  appendEos?: boolean;
  /** Pad to the longest row of the batch (default) or always to maxLength. */
  padding?: "longest" | "maxLength";
  /** Where padding goes (default "right"); with "left" every row's last token is at position L − 1. */
  paddingSide?: "right" | "left";
}

export interface EncodedBatch {
  /** [batch, seqLen], row-major. */
  inputIds: Int32Array;
  /** [batch, seqLen], 1 on real tokens (EOS included), 0 on padding. */
  attentionMask: Int32Array;
  batch: number;
  seqLen: number;
  /** Real tokens per row (EOS included). */
  lengths: Int32Array;
}

export interface BatchSpecialIds {
  eosTokenId: number;
  padTokenId: number;
}

export interface ResolvedBatchOptions {
  maxLength: number;
  appendEos: boolean;
  padding: "longest" | "maxLength";
  paddingSide: "right" | "left";
}

/** Validates batch options; `op` names the caller in messages. */
export function resolveBatchOptions(op: string, options: BatchOptions | undefined): ResolvedBatchOptions {
  if (typeof options !== "object" || options === null) {
    throw new Error(
      `${op}: options must be an object with at least maxLength, got ${options === null ? "null" : typeof options}`,
    );
  }
  const { maxLength, appendEos = true, padding = "longest", paddingSide = "right" } = options;
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new Error(`${op}: options.maxLength must be an integer ≥ 2 (room for a token and EOS), got ${maxLength}`);
  }
  if (typeof appendEos !== "boolean") throw new Error(`${op}: options.appendEos must be a boolean, got ${appendEos}`);
  if (padding !== "longest" && padding !== "maxLength") {
    throw new Error(`${op}: options.padding must be "longest" or "maxLength", got ${JSON.stringify(padding)}`);
  }
  if (paddingSide !== "right" && paddingSide !== "left") {
    throw new Error(`${op}: options.paddingSide must be "right" or "left", got ${JSON.stringify(paddingSide)}`);
  }
  return { maxLength, appendEos, padding, paddingSide };
}

/**
 * Truncates each sequence to maxLength (maxLength − 1 when EOS is appended), appends EOS, and pads.
 * Ids are not range-checked here: they come from a tokenizer, or are checked by the caller.
 */
export function batchTokenIds(
  sequences: readonly ArrayLike<number>[],
  options: BatchOptions,
  special: BatchSpecialIds,
  op = "batchTokenIds",
): EncodedBatch {
  if (!Array.isArray(sequences)) throw new Error(`${op}: sequences must be an array of id arrays`);
  const { maxLength, appendEos, padding, paddingSide } = resolveBatchOptions(op, options);
  for (const [field, id] of [
    ["eosTokenId", special.eosTokenId],
    ["padTokenId", special.padTokenId],
  ] as const) {
    if (!Number.isInteger(id) || id < 0) throw new Error(`${op}: ${field} must be a non-negative integer, got ${id}`);
  }
  const keep = appendEos ? maxLength - 1 : maxLength;
  const batch = sequences.length;
  const lengths = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const seq = sequences[b];
    if (seq === null || typeof seq !== "object" || typeof seq.length !== "number") {
      throw new Error(`${op}: sequence ${b} must be an array of token ids`);
    }
    lengths[b] = Math.min(seq.length, keep) + (appendEos ? 1 : 0);
  }
  const seqLen = padding === "maxLength" ? maxLength : lengths.reduce((m, l) => Math.max(m, l), 0);
  const inputIds = new Int32Array(batch * seqLen).fill(special.padTokenId);
  const attentionMask = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    const seq = sequences[b]!;
    const length = lengths[b]!;
    const start = b * seqLen + (paddingSide === "left" ? seqLen - length : 0);
    const real = length - (appendEos ? 1 : 0);
    for (let i = 0; i < real; i++) {
      const id = seq[i]!;
      if (!Number.isInteger(id))
        throw new Error(`${op}: sequence ${b}, position ${i}: token id ${id} is not an integer`);
      inputIds[start + i] = id;
    }
    if (appendEos) inputIds[start + real] = special.eosTokenId;
    attentionMask.fill(1, start, start + length);
  }
  return { inputIds, attentionMask, batch, seqLen, lengths };
}
