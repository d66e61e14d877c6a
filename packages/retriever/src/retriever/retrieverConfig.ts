import { type EncoderOptions, resolveEncoderOptions } from "../encoder/encoderOptions.js";

/**
 * `retriever.json`: what turns the backbone in the same directory into a retriever — the encoder
 * options, where the LoRA adapter and the vocabulary compaction are, and the embedding size (a
 * cheap check that the directory's parts belong together). A format name and version let a reader
 * refuse a file it does not understand instead of misreading it.
 */

export const RETRIEVER_CONFIG_FILE = "retriever.json";
export const RETRIEVER_FORMAT = "revela-retriever";
export const RETRIEVER_FORMAT_VERSION = 1;

export interface RetrieverConfig {
  format: typeof RETRIEVER_FORMAT;
  version: typeof RETRIEVER_FORMAT_VERSION;
  /** Embedding size (the backbone's hidden size). */
  dimensions: number;
  encoder: EncoderOptions;
  /** Subdirectory holding a PEFT LoRA adapter for the backbone, or null. */
  adapter: string | null;
  /** Whether vocab_compaction.json maps the tokenizer's ids to the backbone's compact vocabulary. */
  vocabCompaction: boolean;
}

/** Validates a parsed retriever.json; `source` (the file) names it in messages. */
export function parseRetrieverConfig(json: unknown, source = RETRIEVER_CONFIG_FILE): RetrieverConfig {
  const fail = (problem: string): never => {
    throw new Error(`${source}: ${problem}`);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("must hold a JSON object");
  const o = json as Record<string, unknown>;
  if (o.format !== RETRIEVER_FORMAT) {
    fail(
      `field "format" must be "${RETRIEVER_FORMAT}", got ${JSON.stringify(o.format)} (not a Revela retriever directory?)`,
    );
  }
  if (o.version !== RETRIEVER_FORMAT_VERSION) {
    const newer = typeof o.version === "number" && o.version > RETRIEVER_FORMAT_VERSION;
    fail(
      `format version ${JSON.stringify(o.version)}; this @revela/retriever reads version ${RETRIEVER_FORMAT_VERSION}` +
        (newer ? " (the directory was written by a newer release: upgrade @revela/retriever)" : ""),
    );
  }
  if (!Number.isSafeInteger(o.dimensions) || (o.dimensions as number) < 1) {
    fail(`field "dimensions" must be a positive integer, got ${JSON.stringify(o.dimensions)}`);
  }
  if (typeof o.encoder !== "object" || o.encoder === null || Array.isArray(o.encoder)) {
    fail(`field "encoder" must be an object of encoder options`);
  }
  const encoder = o.encoder as Record<string, unknown>;
  const unknown = Object.keys(encoder).filter((key) => !ENCODER_KEYS.includes(key));
  if (unknown.length) fail(`field "encoder" has unknown options ${unknown.join(", ")}`);
  const missing = ENCODER_KEYS.filter((key) => !(key in encoder));
  if (missing.length) fail(`field "encoder" lacks ${missing.join(", ")}`);
  const options = resolveEncoderOptions(encoder as Partial<EncoderOptions>, `${source}: field "encoder"`);
  const adapter = o.adapter ?? null;
  if (adapter !== null && (typeof adapter !== "string" || !isPlainSubdirectory(adapter))) {
    fail(
      `field "adapter" must be null or a subdirectory name inside the retriever directory, got ${JSON.stringify(adapter)}`,
    );
  }
  if (typeof o.vocabCompaction !== "boolean") {
    fail(`field "vocabCompaction" must be true or false, got ${JSON.stringify(o.vocabCompaction)}`);
  }
  return {
    format: RETRIEVER_FORMAT,
    version: RETRIEVER_FORMAT_VERSION,
    dimensions: o.dimensions as number,
    encoder: options,
    adapter: adapter as string | null,
    vocabCompaction: o.vocabCompaction as boolean,
  };
}

const ENCODER_KEYS: string[] = ["pooling", "normalize", "queryPrefix", "passagePrefix", "maxLength", "queryRatio"];

/** A relative path that stays inside the directory (no "..", not absolute). */
function isPlainSubdirectory(p: string): boolean {
  return (
    p.length > 0 &&
    !p.startsWith("/") &&
    !p.includes("\\") &&
    p.split("/").every((part) => part && part !== "." && part !== "..")
  );
}
