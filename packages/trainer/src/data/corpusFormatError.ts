/**
 * A corpus line that cannot become a document. The message starts with `file:line:` so that
 * editors and terminals link straight to the offending line.
 */
export class CorpusFormatError extends Error {
  readonly file: string;
  readonly line: number;
  readonly reason: string;

  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = "CorpusFormatError";
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}
