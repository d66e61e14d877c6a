import { access } from "node:fs/promises";
import { DataFormatError, InvalidUtf8Lines, readLines } from "@revela/text-data";
import type { Document } from "./types.js";

/** A skipped line (with `line`) or the end-of-file summary (`line` absent, `skipped` > 0). */
export interface CorpusWarning {
  file: string;
  line?: number;
  /** What was wrong with the line; for the summary, a count. */
  reason: string;
  /** Lines skipped so far in this file. */
  skipped: number;
  /** `file:line: reason`, ready to print. */
  message: string;
}

export interface JsonlCorpusOptions {
  /** Field holding the document id (a non-empty string or a number). Default `id`. */
  idField?: string;
  /** Field holding the text (a non-empty string). Default `text`. */
  textField?: string;
  /** Field holding the optional title (a string; null or absent means none). Default `title`. */
  titleField?: string;
  /**
   * Throw a `DataFormatError` on the first bad line (a line with invalid UTF-8 included) instead of
   * skipping it. Default false.
   */
  strict?: boolean;
  /** Receives one warning per skipped line, then a summary. Default: `console.warn(message)`. */
  onWarning?: (warning: CorpusWarning) => void;
  /**
   * Per-line warnings after this many are not sent (they are still counted in the summary), so a
   * badly broken file cannot flood the log. Default 100.
   */
  maxLineWarnings?: number;
}

function requireFieldName(name: unknown, option: string): string {
  if (typeof name !== "string" || name === "") {
    throw new Error(`readJsonlCorpus: options.${option} must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** The reason a parsed line cannot be a document, or the document. */
function toDocument(
  value: unknown,
  idField: string,
  textField: string,
  titleField: string,
): Document | { problem: string } {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { problem: `expected a JSON object, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}` };
  }
  const record = value as Record<string, unknown>;
  const rawId = record[idField];
  let id: string;
  if (typeof rawId === "number" && Number.isFinite(rawId)) id = String(rawId);
  else if (typeof rawId === "string" && rawId.trim() !== "") id = rawId;
  else if (rawId === undefined) return { problem: `missing id field "${idField}"` };
  else return { problem: `field "${idField}" must be a non-empty string or a number, got ${JSON.stringify(rawId)}` };
  const text = record[textField];
  if (text === undefined) return { problem: `missing text field "${textField}" (id ${JSON.stringify(id)})` };
  if (typeof text !== "string") {
    return { problem: `field "${textField}" must be a string, got ${typeof text} (id ${JSON.stringify(id)})` };
  }
  if (text.trim() === "") return { problem: `empty text in field "${textField}" (id ${JSON.stringify(id)})` };
  const title = record[titleField];
  if (title !== undefined && title !== null && typeof title !== "string") {
    return { problem: `field "${titleField}" must be a string, got ${typeof title} (id ${JSON.stringify(id)})` };
  }
  return typeof title === "string" && title.trim() !== "" ? { id, title, text } : { id, text };
}

/**
 * Streams the documents of a JSON Lines corpus (one JSON object per line) with bounded memory, one
 * line at a time. Blank lines are ignored. A bad line (invalid JSON, not an object, missing or empty
 * text, missing id, repeated id) is skipped with a warning naming `file:line`, and a summary warning
 * follows at the end; with `strict: true` the first bad line throws a `DataFormatError` instead.
 * Bytes that are not UTF-8 are read as U+FFFD and reported in one warning naming the lines (as
 * @revela/eval's BEIR reader does), or refused with `strict`. Ids are remembered (not texts) to
 * catch repeats, since chunk ids and checkpoints rely on them being unique.
 */
export async function* readJsonlCorpus(file: string, options: JsonlCorpusOptions = {}): AsyncGenerator<Document> {
  if (typeof file !== "string" || file === "") {
    throw new Error(`readJsonlCorpus: file must be a non-empty path string, got ${JSON.stringify(file)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new Error(`readJsonlCorpus: options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  const idField = requireFieldName(options.idField ?? "id", "idField");
  const textField = requireFieldName(options.textField ?? "text", "textField");
  const titleField = requireFieldName(options.titleField ?? "title", "titleField");
  const maxLineWarnings = options.maxLineWarnings ?? 100;
  if (!Number.isInteger(maxLineWarnings) || maxLineWarnings < 0) {
    throw new Error(`readJsonlCorpus: options.maxLineWarnings must be a non-negative integer, got ${maxLineWarnings}`);
  }
  const warn = options.onWarning ?? ((w: CorpusWarning) => console.warn(w.message));
  try {
    await access(file);
  } catch (error) {
    throw new Error(`readJsonlCorpus: cannot read corpus file ${file}: ${(error as Error).message}`);
  }

  const firstLineOfId = new Map<string, number>();
  let skipped = 0;
  const invalid = new InvalidUtf8Lines(file);
  let line = 0;
  for await (const read of readLines(file)) {
    line = read.line;
    const text = read.text;
    if (read.invalidUtf8 && options.strict)
      throw new DataFormatError(file, line, "invalid UTF-8 (bytes that are not UTF-8 would be read as U+FFFD)");
    invalid.add(read);
    if (text.trim() === "") continue;
    let result: Document | { problem: string };
    try {
      result = toDocument(JSON.parse(text), idField, textField, titleField);
    } catch (error) {
      result = { problem: `invalid JSON (${(error as Error).message})` };
    }
    if (!("problem" in result)) {
      const first = firstLineOfId.get(result.id);
      if (first === undefined) {
        firstLineOfId.set(result.id, line);
        yield result;
        continue;
      }
      result = { problem: `duplicate id ${JSON.stringify(result.id)} (first at line ${first})` };
    }
    if (options.strict) throw new DataFormatError(file, line, result.problem);
    skipped++;
    if (skipped <= maxLineWarnings) {
      warn({ file, line, reason: result.problem, skipped, message: `${file}:${line}: skipped: ${result.problem}` });
    }
  }
  if (skipped > 0) {
    const reason = `${skipped} bad line${skipped === 1 ? "" : "s"} skipped of ${line}`;
    const unlisted = skipped > maxLineWarnings ? ` (${skipped - maxLineWarnings} not listed individually)` : "";
    warn({ file, reason, skipped, message: `${file}: ${reason}${unlisted}` });
  }
  const utf8 = invalid.warning();
  if (utf8 !== null) warn({ file, reason: "invalid UTF-8, read as U+FFFD", skipped, message: utf8 });
}
