import { POOLINGS, type Pooling } from "./pooling.js";

/** How a retriever turns text into vectors; saved as retriever.json next to the backbone. */
export interface EncoderOptions {
  pooling: Pooling;
  /** L2-normalise embeddings (cosine similarity = inner product). */
  normalize: boolean;
  queryPrefix: string;
  passagePrefix: string;
  /** Tokens per text including the appended EOS. */
  maxLength: number;
  /** Share of a chunk's tokens that forms its training query view ("first half"). */
  queryRatio: number;
}

export const DEFAULT_ENCODER_OPTIONS: EncoderOptions = {
  pooling: "eos",
  normalize: true,
  queryPrefix: "query: ",
  passagePrefix: "passage: ",
  maxLength: 512,
  queryRatio: 0.5,
};

export function resolveEncoderOptions(
  partial: Partial<EncoderOptions> = {},
  source = "encoder options",
): EncoderOptions {
  const o = { ...DEFAULT_ENCODER_OPTIONS, ...partial };
  if (!(POOLINGS as readonly string[]).includes(o.pooling))
    throw new Error(`${source}: pooling must be one of ${POOLINGS.join(", ")}, got ${JSON.stringify(o.pooling)}`);
  if (typeof o.normalize !== "boolean")
    throw new Error(`${source}: normalize must be true or false, got ${JSON.stringify(o.normalize)}`);
  if (typeof o.queryPrefix !== "string")
    throw new Error(`${source}: queryPrefix must be a string, got ${JSON.stringify(o.queryPrefix)}`);
  if (typeof o.passagePrefix !== "string")
    throw new Error(`${source}: passagePrefix must be a string, got ${JSON.stringify(o.passagePrefix)}`);
  if (!Number.isInteger(o.maxLength) || o.maxLength < 2)
    throw new Error(`${source}: maxLength must be an integer ≥ 2, got ${JSON.stringify(o.maxLength)}`);
  if (!(typeof o.queryRatio === "number" && o.queryRatio > 0 && o.queryRatio <= 1)) {
    throw new Error(`${source}: queryRatio must be in (0, 1], got ${JSON.stringify(o.queryRatio)}`);
  }
  return o;
}
