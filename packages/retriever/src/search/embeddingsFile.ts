import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { checkIds, checkMatrix, type EmbeddingMatrix } from "../matrix/embeddingMatrix.js";

/**
 * Embeddings with their ids in one file, written and read in blocks so that a corpus larger than
 * memory (1M × 768 float32 = 3 GiB) can be stored and searched with bounded memory.
 *
 * Layout (little-endian, as every platform Node runs on):
 *
 *   0   8  magic "RVLEMB\0\0"
 *   8   4  u32 format version (1)
 *   12  4  u32 dimensions d
 *   16  8  f64 row count n
 *   24  8  f64 byte offset of the ids
 *   32  8  f64 byte length of the ids
 *   40 24  zero
 *   64     n × d float32, row-major
 *   ...    ids: a UTF-8 JSON array of n strings
 *
 * The header is written last (the file is built under a temporary name and renamed), so a file
 * whose writer died part-way is never mistaken for a complete one.
 */

export const EMBEDDINGS_MAGIC = "RVLEMB\0\0";
export const EMBEDDINGS_VERSION = 1;
const HEADER_BYTES = 64;
const IO_CHUNK = 1 << 30;

export interface EmbeddingsFileHeader {
  dimensions: number;
  count: number;
  idsOffset: number;
  idsBytes: number;
}

/**
 * Appends blocks of embeddings to a new file; `close()` writes the ids and the header. Only the ids
 * are kept in memory.
 */
export class EmbeddingsWriter {
  private readonly ids: string[] = [];
  private readonly seen = new Set<string>();
  private offset = HEADER_BYTES;
  private closed = false;

  private constructor(
    readonly file: string,
    readonly dimensions: number,
    private readonly handle: FileHandle,
    private readonly tmp: string,
  ) {}

  static async create(file: string, dimensions: number): Promise<EmbeddingsWriter> {
    const op = "EmbeddingsWriter.create";
    if (typeof file !== "string" || !file) throw new Error(`${op}: file must be a path string`);
    if (!Number.isSafeInteger(dimensions) || dimensions < 1) {
      throw new Error(`${op}: dimensions must be a positive integer, got ${dimensions}`);
    }
    const tmp = `${file}.partial-${process.pid}`;
    const handle = await open(tmp, "w");
    await handle.write(new Uint8Array(HEADER_BYTES), 0, HEADER_BYTES, 0);
    return new EmbeddingsWriter(file, dimensions, handle, tmp);
  }

  /** Appends rows [n, d] with their ids (unique across the file). */
  async append(ids: readonly string[], matrix: EmbeddingMatrix): Promise<void> {
    const op = "EmbeddingsWriter.append";
    if (this.closed) throw new Error(`${op}: ${this.file} is already closed`);
    checkMatrix(op, "matrix", matrix, this.dimensions);
    checkIds(op, ids, matrix.shape[0]);
    ids.forEach((id, i) => {
      if (this.seen.has(id)) throw new Error(`${op}: ids[${i}] = ${JSON.stringify(id)} is already in ${this.file}`);
      this.seen.add(id);
    });
    const bytes = new Uint8Array(matrix.data.buffer, matrix.data.byteOffset, matrix.data.byteLength);
    let done = 0;
    while (done < bytes.length) {
      // One fs call moves at most 2 GiB; loop for larger blocks and short writes.
      const { bytesWritten } = await this.handle.write(
        bytes,
        done,
        Math.min(bytes.length - done, IO_CHUNK),
        this.offset + done,
      );
      done += bytesWritten;
    }
    this.offset += bytes.length;
    this.ids.push(...ids);
  }

  get count(): number {
    return this.ids.length;
  }

  /** Writes the ids and header and moves the file into place. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      const idsBytes = Buffer.from(JSON.stringify(this.ids), "utf8");
      await this.handle.write(idsBytes, 0, idsBytes.length, this.offset);
      const header = Buffer.alloc(HEADER_BYTES);
      header.write(EMBEDDINGS_MAGIC, 0, "latin1");
      header.writeUInt32LE(EMBEDDINGS_VERSION, 8);
      header.writeUInt32LE(this.dimensions, 12);
      header.writeDoubleLE(this.ids.length, 16);
      header.writeDoubleLE(this.offset, 24);
      header.writeDoubleLE(idsBytes.length, 32);
      await this.handle.write(header, 0, HEADER_BYTES, 0);
      await this.handle.close();
      await rename(this.tmp, this.file);
    } catch (e) {
      await this.handle.close().catch(() => {});
      await rm(this.tmp, { force: true });
      throw e;
    }
  }

  /** Closes and deletes the partial file (after an error upstream). */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => {});
    await rm(this.tmp, { force: true });
  }
}

/** Writes a whole matrix and its ids. */
export async function saveEmbeddings(file: string, ids: readonly string[], matrix: EmbeddingMatrix): Promise<void> {
  checkMatrix("saveEmbeddings", "matrix", matrix);
  const writer = await EmbeddingsWriter.create(file, matrix.shape[1]);
  try {
    await writer.append(ids, matrix);
  } catch (e) {
    await writer.abort();
    throw e;
  }
  await writer.close();
}

/** An embeddings file opened for reading: header and ids in memory, rows read on demand. */
export class EmbeddingsReader {
  private constructor(
    readonly file: string,
    readonly header: EmbeddingsFileHeader,
    readonly ids: readonly string[],
    private readonly handle: FileHandle,
  ) {}

  static async open(file: string): Promise<EmbeddingsReader> {
    if (typeof file !== "string" || !file) throw new Error("EmbeddingsReader.open: file must be a path string");
    let handle: FileHandle;
    try {
      handle = await open(file, "r");
    } catch (e) {
      throw new Error(`embeddings file ${file}: cannot open: ${(e as Error).message}`);
    }
    try {
      const { size } = await handle.stat();
      const fail = (problem: string): never => {
        throw new Error(`embeddings file ${file}: ${problem}`);
      };
      if (size < HEADER_BYTES) fail(`${size} bytes is too short for the ${HEADER_BYTES}-byte header`);
      const head = Buffer.alloc(HEADER_BYTES);
      await handle.read(head, 0, HEADER_BYTES, 0);
      if (head.toString("latin1", 0, 8) !== EMBEDDINGS_MAGIC) {
        fail("not a Revela embeddings file (bad magic; was it written completely, by saveEmbeddings?)");
      }
      const version = head.readUInt32LE(8);
      if (version !== EMBEDDINGS_VERSION) {
        fail(`format version ${version}; this code reads version ${EMBEDDINGS_VERSION}`);
      }
      const header: EmbeddingsFileHeader = {
        dimensions: head.readUInt32LE(12),
        count: head.readDoubleLE(16),
        idsOffset: head.readDoubleLE(24),
        idsBytes: head.readDoubleLE(32),
      };
      const dataEnd = HEADER_BYTES + header.count * header.dimensions * 4;
      if (header.dimensions < 1 || !Number.isSafeInteger(header.count) || header.idsOffset !== dataEnd) {
        fail(`inconsistent header (d ${header.dimensions}, n ${header.count}, ids at ${header.idsOffset})`);
      }
      if (header.idsOffset + header.idsBytes !== size) {
        fail(`is ${size} bytes, the header says ${header.idsOffset + header.idsBytes} (truncated or appended to?)`);
      }
      const idsBuffer = Buffer.alloc(header.idsBytes);
      await handle.read(idsBuffer, 0, header.idsBytes, header.idsOffset);
      let ids: unknown;
      try {
        ids = JSON.parse(idsBuffer.toString("utf8"));
      } catch (e) {
        fail(`the ids are not valid JSON: ${(e as Error).message}`);
      }
      if (!Array.isArray(ids) || ids.length !== header.count || !ids.every((id) => typeof id === "string")) {
        fail(`the ids must be a JSON array of ${header.count} strings`);
      }
      // A search hit names a row by its id: two rows with one id would make results ambiguous.
      const rowOf = new Map<string, number>();
      (ids as string[]).forEach((id, row) => {
        const first = rowOf.get(id);
        if (first !== undefined) fail(`id ${JSON.stringify(id)} names rows ${first} and ${row}; ids must be unique`);
        rowOf.set(id, row);
      });
      return new EmbeddingsReader(file, header, ids as string[], handle);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  get count(): number {
    return this.header.count;
  }

  get dimensions(): number {
    return this.header.dimensions;
  }

  /** Rows [start, start + rows) as a [rows, d] matrix. */
  async readRows(start: number, rows: number): Promise<EmbeddingMatrix> {
    const d = this.header.dimensions;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(rows) ||
      start < 0 ||
      rows < 0 ||
      start + rows > this.count
    ) {
      throw new Error(`EmbeddingsReader.readRows: rows [${start}, ${start + rows}) are outside 0..${this.count}`);
    }
    const data = new Float32Array(rows * d);
    const bytes = new Uint8Array(data.buffer);
    let done = 0;
    while (done < bytes.length) {
      const length = Math.min(bytes.length - done, IO_CHUNK);
      const { bytesRead } = await this.handle.read(bytes, done, length, HEADER_BYTES + start * d * 4 + done);
      if (bytesRead === 0) throw new Error(`embeddings file ${this.file}: unexpected end of file at row ${start}`);
      done += bytesRead;
    }
    return { data, shape: [rows, d] };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Reads a whole embeddings file into memory. */
export async function loadEmbeddings(file: string): Promise<{ ids: string[]; matrix: EmbeddingMatrix }> {
  const reader = await EmbeddingsReader.open(file);
  try {
    return { ids: [...reader.ids], matrix: await reader.readRows(0, reader.count) };
  } finally {
    await reader.close();
  }
}
