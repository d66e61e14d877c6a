import { createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { documentText } from "./documentText.js";

export interface IdentifiedText {
  id: string;
  text: string;
}

/**
 * Texts to encode, with ids, from either
 * - `.jsonl`: one JSON object a line with `_id` (or `id`; a string or an integer) and `text`, and
 *   optionally `title` — BEIR's corpus.jsonl and queries.jsonl both fit; or
 * - `.txt`: one text a line, its id the line number (1-based).
 * Blank lines are skipped. A malformed line or a repeated id fails, naming file and line.
 */
export async function readTextsFile(file: string, source = "--input"): Promise<IdentifiedText[]> {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${source} ${file}: no such file`);
  if (!stat.isFile()) throw new Error(`${source} ${file}: not a file`);
  const kind = file.endsWith(".jsonl") ? "jsonl" : file.endsWith(".txt") ? "txt" : null;
  if (kind === null)
    throw new Error(
      `${source} ${file}: the name must end in .jsonl (objects with _id and text) or .txt (one text a line)`,
    );
  const texts: IdentifiedText[] = [];
  const seen = new Map<string, number>();
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  for await (const raw of lines) {
    lineNo++;
    const line = raw.replace(/^\uFEFF/, "");
    if (line.trim() === "") continue;
    const where = `${file}:${lineNo}`;
    let item: IdentifiedText;
    if (kind === "txt") item = { id: String(lineNo), text: line };
    else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        throw new Error(`${where}: invalid JSON: ${(error as Error).message}`);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
        throw new Error(`${where}: expected a JSON object`);
      const o = parsed as Record<string, unknown>;
      const rawId = o._id ?? o.id;
      if (!(typeof rawId === "string" && rawId !== "") && !Number.isSafeInteger(rawId)) {
        throw new Error(`${where}: "_id" must be a non-empty string or an integer, got ${JSON.stringify(rawId)}`);
      }
      if (typeof o.text !== "string")
        throw new Error(`${where}: "text" must be a string, got ${JSON.stringify(o.text)}`);
      if (o.title !== undefined && typeof o.title !== "string")
        throw new Error(`${where}: "title" must be a string, got ${JSON.stringify(o.title)}`);
      item = {
        id: String(rawId),
        text: documentText({ text: o.text, ...(o.title !== undefined ? { title: o.title as string } : {}) }),
      };
    }
    const earlier = seen.get(item.id);
    if (earlier !== undefined) throw new Error(`${where}: id "${item.id}" already appears on line ${earlier}`);
    seen.set(item.id, lineNo);
    texts.push(item);
  }
  if (texts.length === 0) throw new Error(`${source} ${file}: no texts (the file is empty)`);
  return texts;
}
