import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

/**
 * The lines of a text file with their 1-based numbers, streamed so that a corpus of millions of
 * lines never exists as one string. CRLF endings and a UTF-8 byte-order mark are accepted.
 */
export async function* readLines(file: string): AsyncGenerator<{ text: string; line: number }> {
  const reader = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of reader) {
    line++;
    yield { text: line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw, line };
  }
}
