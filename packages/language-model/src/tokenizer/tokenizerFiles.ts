import { readFile } from "node:fs/promises";

/**
 * Reading `tokenizer.json` / `tokenizer_config.json`, and the special-token fields of the latter,
 * which Hugging Face writes either as a plain string or as a serialised AddedToken
 * (`{"__type": "AddedToken", "content": "<s>", ...}`) depending on the transformers version.
 */

export const TOKENIZER_FILE = "tokenizer.json";
export const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";

export async function readJsonObject(path: string, what: string): Promise<Record<string, unknown>> {
  if (typeof path !== "string" || path.length === 0) {
    throw new Error(`tokenizer: the path of ${what} must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new Error(`tokenizer: cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`tokenizer: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`tokenizer: ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * The token text of a special-token field (`eos_token`, ...): a string, `{content}`, or null/absent
 * → null. Anything else is an error naming the field and where it came from.
 */
export function specialTokenText(config: Record<string, unknown>, field: string, source: string): string | null {
  const value = config[field];
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof (value as { content?: unknown }).content === "string"
  ) {
    return (value as { content: string }).content;
  }
  throw new Error(
    `tokenizer: ${source}: field "${field}" must be a token string or {content: string}, got ${JSON.stringify(value)}`,
  );
}
