/**
 * The one error type of the safetensors reader and writer. Every message starts with the file and,
 * where they are known, the tensor and the absolute byte offset in the file, so that a corrupt
 * multi-gigabyte checkpoint can be diagnosed from the message alone; the same facts are also kept as
 * fields for code that wants to react to them.
 */
export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor: string | undefined;
  readonly byteOffset: number | undefined;

  constructor(file: string, problem: string, where: { tensor?: string; byteOffset?: number } = {}) {
    const parts = [`safetensors: ${file}`];
    if (where.tensor !== undefined) parts.push(`tensor ${JSON.stringify(where.tensor)}`);
    if (where.byteOffset !== undefined) parts.push(`byte ${where.byteOffset}`);
    super(`${parts.join(", ")}: ${problem}`);
    this.name = "SafetensorsError";
    this.file = file;
    this.tensor = where.tensor;
    this.byteOffset = where.byteOffset;
  }
}
