/**
 * A file that does not have the shape its format requires. The message starts with `file:line:` so
 * that editors and terminals link straight to the offending line.
 */
export class DataFormatError extends Error {
  readonly file: string;
  readonly line: number;
  /** What is wrong, without the `file:line:` prefix. */
  readonly problem: string;

  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}`);
    this.name = "DataFormatError";
    this.file = file;
    this.line = line;
    this.problem = problem;
  }
}
