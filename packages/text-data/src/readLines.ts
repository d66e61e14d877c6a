import { createReadStream } from "node:fs";

/** A line of a text file: its text, 1-based number, and whether its bytes were not valid UTF-8. */
export interface TextLine {
  text: string;
  line: number;
  /** The line held bytes that are not UTF-8; they were replaced with U+FFFD in `text`. */
  invalidUtf8: boolean;
}

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The lines of a text file with their 1-based numbers, streamed so that a corpus of millions of
 * lines never exists as one string. CRLF endings and a UTF-8 byte-order mark are accepted. Lines
 * are decoded one by one, so that a line with invalid UTF-8 is known (and can be reported with its
 * number) instead of being repaired silently.
 */
export async function* readLines(file: string): AsyncGenerator<TextLine> {
  let line = 0;
  // Pieces of the line being read, joined once at its end (a line may span many chunks).
  let pieces: Buffer[] = [];
  const finish = (bytes: Buffer): TextLine => {
    line++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    let start = 0;
    if (line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    const body = bytes.subarray(start, end);
    try {
      return { text: strict.decode(body), line, invalidUtf8: false };
    } catch {
      return { text: lenient.decode(body), line, invalidUtf8: true };
    }
  };
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a, from); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
      const tail = chunk.subarray(from, nl);
      yield finish(pieces.length > 0 ? Buffer.concat([...pieces, tail]) : tail);
      pieces = [];
      from = nl + 1;
    }
    if (from < chunk.length) pieces.push(chunk.subarray(from));
  }
  if (pieces.length > 0) yield finish(Buffer.concat(pieces));
}

/**
 * Collects the lines of one file that held invalid UTF-8 and turns them into one warning naming
 * the file and the first lines (`file:line`), or none.
 */
export class InvalidUtf8Lines {
  private readonly lines: number[] = [];
  constructor(private readonly file: string) {}

  add(line: TextLine): void {
    if (line.invalidUtf8) this.lines.push(line.line);
  }

  warning(): string | null {
    const n = this.lines.length;
    if (n === 0) return null;
    const first = this.lines.slice(0, 5).join(", ");
    return `${this.file}:${this.lines[0]}: invalid UTF-8 on ${n} line(s) (${first}${n > 5 ? ", …" : ""}); the bad bytes were read as U+FFFD`;
  }
}
