import { dtypeByteSize, isSafetensorsDtype, knownDtypes, type SafetensorsDtype } from "./dtypes.js";
import { SafetensorsError } from "./safetensorsError.js";

/**
 * The safetensors header: an 8-byte little-endian length N, then N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {key: value}}`, then the data
 * buffer; offsets are relative to the buffer, which starts at byte 8 + N.
 *
 * Validation is as strict as the reference implementation (Rust `safetensors`, which torch and
 * transformers use): tensors must tile the buffer exactly — no overlaps, no gaps, no trailing bytes —
 * so any file accepted here loads in Python too, and a truncated or spliced file is caught before a
 * single tensor is read. Messages say what is wrong, in which tensor, at which absolute byte.
 */

/** The reference implementation refuses headers above 100 MB; so do we (a corrupt length would otherwise allocate it). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) relative to the start of the data buffer, as in the file. */
  dataOffsets: [number, number];
  /** Absolute offset in the file of the tensor's first byte (8 + N + begin). */
  byteOffset: number;
  /** end − begin. */
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  /** N, the JSON header's length in bytes (including any padding). */
  headerLength: number;
  /** 8 + N: where the data buffer starts. */
  dataStart: number;
  fileSize: number;
  /** Tensors in file order (ascending offsets). */
  tensors: Map<string, SafetensorsTensorInfo>;
  /** The `__metadata__` entry, or null when the file has none. */
  metadata: Record<string, string> | null;
}

/**
 * Checks the 8-byte length prefix against the file size and returns N. `prefix` is the file's first
 * bytes (at least 8 are needed).
 */
export function parseHeaderLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(
      file,
      `file is ${fileSize} bytes, shorter than the 8-byte header length prefix (truncated or not a safetensors file)`,
      { byteOffset: 0 },
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      file,
      `header length ${n} (bytes 0-7, little-endian u64) is above the ${MAX_HEADER_BYTES}-byte limit of the format; not a safetensors file?`,
      { byteOffset: 0 },
    );
  }
  const headerLength = Number(n);
  if (8 + headerLength > fileSize) {
    throw new SafetensorsError(
      file,
      `header length ${headerLength} (bytes 0-7) runs past the end of the file: the header would end at byte ${8 + headerLength} but the file is ${fileSize} bytes (truncated?)`,
      { byteOffset: 0 },
    );
  }
  return headerLength;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const isNonNegativeInteger = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

const describe = (v: unknown): string => {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array ${JSON.stringify(v).slice(0, 60)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
};

/**
 * Parses and validates the JSON header (`headerBytes`: the N bytes after the length prefix) of a file
 * of `fileSize` bytes.
 */
export function parseSafetensorsHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataStart = 8 + headerLength;
  if (dataStart > fileSize) {
    throw new SafetensorsError(file, `header of ${headerLength} bytes does not fit in a file of ${fileSize} bytes`, {
      byteOffset: 0,
    });
  }
  const bufferLength = fileSize - dataStart;

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, `header (bytes 8-${dataStart - 1}) is not valid UTF-8`, { byteOffset: 8 });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      file,
      `header (bytes 8-${dataStart - 1}) is not valid JSON: ${(e as Error).message}; it starts ${JSON.stringify(text.slice(0, 40))}`,
      { byteOffset: 8 },
    );
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsError(file, `header must be a JSON object, got ${describe(parsed)}`, { byteOffset: 8 });
  }

  let metadata: Record<string, string> | null = null;
  const entries: [string, SafetensorsTensorInfo][] = [];
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === "__metadata__") {
      if (!isPlainObject(entry)) {
        throw new SafetensorsError(
          file,
          `header field "__metadata__" must be an object of strings, got ${describe(entry)}`,
          {
            byteOffset: 8,
          },
        );
      }
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== "string") {
          throw new SafetensorsError(
            file,
            `header field "__metadata__"."${key}" must be a string, got ${describe(value)}`,
            { byteOffset: 8 },
          );
        }
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    entries.push([name, parseTensorEntry(file, name, entry, dataStart, bufferLength, fileSize)]);
  }

  // Tile check, as the reference: sorted by offsets, each tensor starts where the previous ended.
  entries.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let end = 0;
  let previous: string | undefined;
  for (const [name, info] of entries) {
    const [begin] = info.dataOffsets;
    if (begin < end) {
      throw new SafetensorsError(
        file,
        `data_offsets [${info.dataOffsets.join(", ")}] overlap tensor ${JSON.stringify(previous)}, which ends at buffer offset ${end} (byte ${dataStart + end})`,
        { tensor: name, byteOffset: info.byteOffset },
      );
    }
    if (begin > end) {
      throw new SafetensorsError(
        file,
        `buffer bytes [${end}, ${begin}) (file bytes ${dataStart + end}-${dataStart + begin - 1}) belong to no tensor: the tensors must tile the data buffer`,
        { tensor: name, byteOffset: dataStart + end },
      );
    }
    end = info.dataOffsets[1];
    previous = name;
  }
  if (end !== bufferLength) {
    throw new SafetensorsError(
      file,
      `${bufferLength - end} trailing bytes after the last tensor (buffer ends at offset ${end}, file at byte ${fileSize}): the tensors must tile the data buffer`,
      { byteOffset: dataStart + end },
    );
  }

  return { file, headerLength, dataStart, fileSize, tensors: new Map(entries), metadata };
}

function parseTensorEntry(
  file: string,
  name: string,
  entry: unknown,
  dataStart: number,
  bufferLength: number,
  fileSize: number,
): SafetensorsTensorInfo {
  const fail = (problem: string, byteOffset = 8): never => {
    throw new SafetensorsError(file, problem, { tensor: name, byteOffset });
  };
  if (!isPlainObject(entry))
    return fail(`header entry must be an object {dtype, shape, data_offsets}, got ${describe(entry)}`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isSafetensorsDtype(dtype)) {
    return fail(`unknown dtype ${describe(dtype)} (known: ${knownDtypes().join(", ")})`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    return fail(`shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !isNonNegativeInteger(offsets[0]) ||
    !isNonNegativeInteger(offsets[1])
  ) {
    return fail(`data_offsets must be [begin, end] with non-negative integers, got ${describe(offsets)}`);
  }
  const begin = offsets[0] as number;
  const end = offsets[1] as number;
  if (end < begin) return fail(`data_offsets [${begin}, ${end}] end before they begin`, dataStart + begin);
  if (end > bufferLength) {
    return fail(
      `data_offsets [${begin}, ${end}] run past the end of the data buffer: the tensor would end at byte ${dataStart + end} but the file is ${fileSize} bytes (truncated?)`,
      dataStart + begin,
    );
  }
  // Element count, guarding against products that are not exact in float64.
  let elements = 1;
  for (const d of shape as number[]) {
    elements *= d;
    if (!Number.isSafeInteger(elements)) return fail(`shape [${shape.join(", ")}] has too many elements`);
  }
  const expected = elements * dtypeByteSize(dtype);
  if (expected !== end - begin) {
    return fail(
      `shape [${shape.join(", ")}] of ${dtype} needs ${elements} × ${dtypeByteSize(dtype)} = ${expected} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`,
      dataStart + begin,
    );
  }
  return {
    dtype,
    shape: [...(shape as number[])],
    dataOffsets: [begin, end],
    byteOffset: dataStart + begin,
    byteLength: end - begin,
  };
}
