import { existsSync } from "node:fs";
import path from "node:path";
import { DataFormatError, InvalidUtf8Lines, readLines } from "@revela/text-data";
import type { Qrels } from "./run.js";

/** A corpus document; BEIR retrievers see `title` and `text`. */
export interface BeirDocument {
  id: string;
  title: string;
  text: string;
}

export interface BeirDataset {
  /** Document id → document, in file order. */
  corpus: Map<string, BeirDocument>;
  /** Query id → text: only the queries judged in the split, in queries.jsonl order (as BEIR's loader keeps them). */
  queries: Map<string, string>;
  qrels: Qrels;
  /** Qrels rows naming a query absent from queries.jsonl (kept, as BEIR keeps them). */
  unknownQueryRows: number;
  /** Qrels rows naming a document absent from corpus.jsonl (kept: they lower recall, as in BEIR). */
  unknownDocumentRows: number;
  /** Human-readable notes about the counts above; empty for a clean dataset. */
  warnings: string[];
}

/**
 * Loads a dataset in BEIR layout: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.
 * Malformed lines and duplicate ids throw a `DataFormatError` naming file and line; qrels rows that
 * name unknown queries or documents are counted in `warnings`, not thrown, because several
 * published BEIR datasets have them.
 */
export async function loadBeirDataset(dir: string, options: { split?: string } = {}): Promise<BeirDataset> {
  const split = options.split ?? "test";
  const files = {
    corpus: path.join(dir, "corpus.jsonl"),
    queries: path.join(dir, "queries.jsonl"),
    qrels: path.join(dir, "qrels", `${split}.tsv`),
  };
  for (const file of Object.values(files)) {
    if (!existsSync(file)) throw new Error(`loadBeirDataset: ${file} does not exist (BEIR layout expected in ${dir})`);
  }
  const encoding: string[] = [];
  const [corpus, allQueries, qrels] = await Promise.all([
    readCorpus(files.corpus, { warnings: encoding }),
    readQueries(files.queries, { warnings: encoding }),
    readQrels(files.qrels, { warnings: encoding }),
  ]);

  let unknownQueryRows = 0;
  let unknownDocumentRows = 0;
  const unknownQueries = new Set<string>();
  const unknownDocuments = new Set<string>();
  for (const [queryId, judgements] of qrels) {
    if (!allQueries.has(queryId)) {
      unknownQueryRows += judgements.size;
      unknownQueries.add(queryId);
    }
    for (const docId of judgements.keys()) {
      if (!corpus.has(docId)) {
        unknownDocumentRows++;
        unknownDocuments.add(docId);
      }
    }
  }
  const warnings: string[] = [...encoding];
  if (unknownQueryRows) {
    warnings.push(
      `${files.qrels}: ${unknownQueryRows} row(s) name ${unknownQueries.size} query id(s) not in queries.jsonl (${sample(unknownQueries)})`,
    );
  }
  if (unknownDocumentRows) {
    warnings.push(
      `${files.qrels}: ${unknownDocumentRows} row(s) name ${unknownDocuments.size} document id(s) not in corpus.jsonl (${sample(unknownDocuments)})`,
    );
  }

  const queries = new Map<string, string>();
  for (const [id, text] of allQueries) if (qrels.has(id)) queries.set(id, text);
  return { corpus, queries, qrels, unknownQueryRows, unknownDocumentRows, warnings };
}

function sample(ids: Set<string>): string {
  const first = [...ids].slice(0, 3).map((id) => JSON.stringify(id));
  return `e.g. ${first.join(", ")}${ids.size > 3 ? ", …" : ""}`;
}

/** corpus.jsonl: one `{"_id", "title"?, "text"}` object a line; other fields (metadata) are ignored. */
export async function readCorpus(file: string, options: ReadOptions = {}): Promise<Map<string, BeirDocument>> {
  const corpus = new Map<string, BeirDocument>();
  for await (const { record, id, line } of jsonlRecords(file, "document", options)) {
    const body = record.text;
    if (typeof body !== "string")
      throw new DataFormatError(file, line, `document "${id}": "text" must be a string, got ${describe(body)}`);
    const title = record.title ?? "";
    if (typeof title !== "string")
      throw new DataFormatError(file, line, `document "${id}": "title" must be a string, got ${describe(title)}`);
    corpus.set(id, { id, title, text: body });
  }
  return corpus;
}

export interface ReadOptions {
  /** Receives a warning naming file:line when lines held invalid UTF-8 (read as U+FFFD); default: ignored. */
  warnings?: string[];
}

/** queries.jsonl: one `{"_id", "text"}` object a line. */
export async function readQueries(file: string, options: ReadOptions = {}): Promise<Map<string, string>> {
  const queries = new Map<string, string>();
  for await (const { record, id, line } of jsonlRecords(file, "query", options)) {
    if (typeof record.text !== "string")
      throw new DataFormatError(file, line, `query "${id}": "text" must be a string, got ${describe(record.text)}`);
    queries.set(id, record.text);
  }
  return queries;
}

/**
 * The JSON objects of a BEIR JSONL file with their `_id` and line, blank lines skipped: a line that
 * is not an object, lacks an `_id` or repeats one throws; invalid UTF-8 becomes one warning at the end.
 */
async function* jsonlRecords(
  file: string,
  kind: "document" | "query",
  options: ReadOptions,
): AsyncGenerator<{ record: Record<string, unknown>; id: string; line: number }> {
  const firstLine = new Map<string, number>();
  const invalid = new InvalidUtf8Lines(file);
  for await (const read of readLines(file)) {
    const { text, line } = read;
    invalid.add(read);
    if (text.trim() === "") continue;
    const record = parseJsonObject(text, file, line);
    const id = readId(record, file, line);
    const previous = firstLine.get(id);
    if (previous !== undefined)
      throw new DataFormatError(file, line, `duplicate ${kind} id "${id}" (first at line ${previous})`);
    firstLine.set(id, line);
    yield { record, id, line };
  }
  reportInvalid(invalid, options);
}

function reportInvalid(invalid: InvalidUtf8Lines, options: ReadOptions): void {
  const warning = invalid.warning();
  if (warning !== null) options.warnings?.push(warning);
}

/**
 * qrels/<split>.tsv: a header line (`query-id corpus-id score`), then `query-id TAB corpus-id TAB grade`
 * with an integer grade. A pair repeated with the same grade is accepted once; with a different
 * grade it throws (trec_eval would refuse either; BEIR silently keeps the last).
 */
export async function readQrels(file: string, options: ReadOptions = {}): Promise<Qrels> {
  const qrels: Qrels = new Map();
  const firstLine = new Map<string, number>();
  let sawHeader = false;
  const invalid = new InvalidUtf8Lines(file);
  for await (const read of readLines(file)) {
    const { text, line } = read;
    invalid.add(read);
    if (text.trim() === "") continue;
    const fields = text.split("\t");
    if (!sawHeader) {
      sawHeader = true;
      if (fields.length === 3 && /^-?\d+$/.test((fields[2] as string).trim())) {
        throw new DataFormatError(
          file,
          line,
          `expected the header line "query-id\\tcorpus-id\\tscore", found a data row (BEIR's loader would silently drop it)`,
        );
      }
      continue;
    }
    if (fields.length !== 3) {
      throw new DataFormatError(
        file,
        line,
        `expected 3 tab-separated fields (query-id, corpus-id, score), found ${fields.length}: ${JSON.stringify(text)}`,
      );
    }
    const [queryId, docId, gradeText] = fields.map((f) => f.trim()) as [string, string, string];
    if (queryId === "" || docId === "") throw new DataFormatError(file, line, "empty query-id or corpus-id");
    if (!/^-?\d+$/.test(gradeText))
      throw new DataFormatError(file, line, `score must be an integer, got ${JSON.stringify(gradeText)}`);
    const grade = Number(gradeText);
    let judgements = qrels.get(queryId);
    if (judgements === undefined) {
      judgements = new Map();
      qrels.set(queryId, judgements);
    }
    const previous = judgements.get(docId);
    if (previous !== undefined) {
      if (previous !== grade) {
        throw new DataFormatError(
          file,
          line,
          `query "${queryId}", document "${docId}" judged ${grade} here and ${previous} at line ${firstLine.get(`${queryId}\t${docId}`)}`,
        );
      }
      continue;
    }
    judgements.set(docId, grade);
    firstLine.set(`${queryId}\t${docId}`, line);
  }
  if (!sawHeader) throw new DataFormatError(file, 1, "empty qrels file (expected a header line and rows)");
  reportInvalid(invalid, options);
  return qrels;
}

function parseJsonObject(text: string, file: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DataFormatError(file, line, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DataFormatError(file, line, `expected a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** `_id` as a string; integer ids (some exports write them unquoted) are accepted as their decimal text. */
function readId(record: Record<string, unknown>, file: string, line: number): string {
  const id = record._id;
  if (typeof id === "string" && id !== "") return id;
  if (typeof id === "number" && Number.isInteger(id)) return String(id);
  throw new DataFormatError(file, line, `"_id" must be a non-empty string, got ${describe(id)}`);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string"
    ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    : typeof value;
}
