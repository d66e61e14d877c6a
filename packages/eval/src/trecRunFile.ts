import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { DataFormatError, readLines } from "@revela/text-data";
import { checkHits, type Hit, type Run } from "./run.js";
import { inTrecOrder } from "./trecOrder.js";

/**
 * TREC run format, one retrieved document a line: `query-id Q0 doc-id rank score tag`.
 * Lines are written in trec_eval order with ranks 1, 2, …; scores are written in JavaScript's
 * shortest round-trip form, so reading a written run gives back the same numbers.
 */
export function formatTrecRun(run: Run, tag = "revela"): string {
  const parts: string[] = [];
  for (const chunk of trecRunChunks(run, tag)) parts.push(chunk);
  return parts.join("");
}

/** Writes a run file, streaming query by query so that a 10k × 1000 run never becomes one string. */
export async function writeTrecRun(file: string, run: Run, tag = "revela"): Promise<void> {
  const out = createWriteStream(file, { encoding: "utf8" });
  const failed = once(out, "error").then(([e]) => {
    throw new Error(`writeTrecRun: cannot write ${file}: ${(e as Error).message}`);
  });
  const finished = (async () => {
    for (const chunk of trecRunChunks(run, tag)) {
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
  })();
  await Promise.race([finished, failed]);
}

function* trecRunChunks(run: Run, tag: string): Generator<string> {
  checkToken(tag, "tag");
  for (const [queryId, hits] of run) {
    checkToken(queryId, "query id");
    checkHits(queryId, hits, "formatTrecRun");
    const lines: string[] = [];
    inTrecOrder(hits).forEach((hit, i) => {
      checkToken(hit.docId, `document id (query "${queryId}")`);
      lines.push(`${queryId} Q0 ${hit.docId} ${i + 1} ${hit.score} ${tag}\n`);
    });
    yield lines.join("");
  }
}

function checkToken(value: string, what: string): void {
  if (value === "" || /\s/.test(value)) {
    throw new Error(
      `formatTrecRun: ${what} ${JSON.stringify(value)} is empty or contains whitespace, which the TREC run format cannot hold`,
    );
  }
}

/** Parses run-file text; `source` names it in errors. The rank column is ignored, as trec_eval ignores it. */
export function parseTrecRun(text: string, source = "<run>"): Run {
  const builder = new RunBuilder(source);
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) builder.add(lines[i] as string, i + 1);
  return builder.run;
}

/** Reads a run file, streaming its lines. */
export async function readTrecRun(file: string): Promise<Run> {
  const builder = new RunBuilder(file);
  for await (const { text, line } of readLines(file)) builder.add(text, line);
  return builder.run;
}

class RunBuilder {
  readonly run: Run = new Map();
  private readonly lists = new Map<string, Hit[]>();
  // Duplicate detection for the query being read: run files group lines by query, so one set at a
  // time keeps memory to one ranking even for 10k × 1000 runs (rebuilt if a query comes back).
  private currentQuery: string | undefined;
  private currentDocs = new Map<string, number>();

  constructor(private readonly source: string) {}

  add(text: string, line: number): void {
    if (text.trim() === "") return;
    const fields = text.trim().split(/\s+/);
    if (fields.length !== 6) {
      throw new DataFormatError(
        this.source,
        line,
        `expected 6 fields "query-id Q0 doc-id rank score tag", found ${fields.length}: ${JSON.stringify(text)}`,
      );
    }
    const [queryId, , docId, , scoreText] = fields as [string, string, string, string, string, string];
    const score = Number(scoreText);
    if (!Number.isFinite(score)) {
      throw new DataFormatError(this.source, line, `score ${JSON.stringify(scoreText)} is not a finite number`);
    }
    let hits = this.lists.get(queryId);
    if (hits === undefined) {
      hits = [];
      this.lists.set(queryId, hits);
      this.run.set(queryId, hits);
    }
    if (queryId !== this.currentQuery) {
      this.currentQuery = queryId;
      this.currentDocs = new Map(hits.map((h) => [h.docId, 0]));
    }
    const previous = this.currentDocs.get(docId);
    if (previous !== undefined) {
      const where = previous > 0 ? ` (first at line ${previous})` : "";
      throw new DataFormatError(
        this.source,
        line,
        `query "${queryId}" retrieves document "${docId}" again${where}; trec_eval refuses duplicates`,
      );
    }
    this.currentDocs.set(docId, line);
    hits.push({ docId, score });
  }
}
