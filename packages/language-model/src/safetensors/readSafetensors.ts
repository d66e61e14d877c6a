import { type FileHandle, open } from "node:fs/promises";
import { endianness } from "node:os";
import { decodeHalfInto, type FloatDtype, isFloatDtype, type SafetensorsDtype } from "./dtypes.js";
import {
  parseHeaderLength,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from "./header.js";
import { SafetensorsError } from "./safetensorsError.js";

/**
 * Reading safetensors files tensor by tensor through a file handle: each tensor's byte range is read
 * straight into the typed array that is returned (F32), or into one half-size scratch array that is
 * then decoded (F16/BF16). The file is never loaded whole, so reading a checkpoint needs its size in
 * memory once (for F16/BF16, twice its size: float32 is twice as wide), plus one tensor of scratch.
 */

export interface SafetensorsTensor {
  /** The dtype stored in the file; writing the tensor back with it reproduces the file's bytes. */
  dtype: FloatDtype;
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/** A tensor's bytes as stored (little-endian, row-major), for dtypes that do not decode to float32. */
export interface SafetensorsRawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: Uint8Array;
}

export interface ReadSafetensorsOptions {
  /** Read only these tensors (all must exist). Default: every tensor in the file. */
  names?: readonly string[];
}

// One read call is capped below Node's 2 GiB limit for a single fs read.
const MAX_READ_BYTES = 1 << 30;

function requireLittleEndianHost(): void {
  // Typed arrays use the host's byte order and the format is little-endian; every platform Node
  // ships for is little-endian, so a big-endian host is refused rather than silently byte-swapped wrong.
  if (endianness() !== "LE") throw new Error("safetensors: big-endian hosts are not supported");
}

async function openFile(file: string): Promise<FileHandle> {
  if (typeof file !== "string" || file.length === 0) {
    throw new Error(`safetensors: file must be a non-empty path string, got ${JSON.stringify(file)}`);
  }
  try {
    return await open(file, "r");
  } catch (e) {
    throw new SafetensorsError(file, `cannot open: ${(e as Error).message}`);
  }
}

/** Fills `target` from `position`, failing with the byte offset if the file ends first. */
async function readExactly(fh: FileHandle, file: string, target: Uint8Array, position: number, what: string) {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(target.length - done, MAX_READ_BYTES);
    const { bytesRead } = await fh.read(target, done, length, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        file,
        `file ends while reading ${what}: needed bytes ${position}-${position + target.length - 1}, got ${done} (truncated or changed while reading?)`,
        { byteOffset: position + done },
      );
    }
    done += bytesRead;
  }
}

async function readHeaderFrom(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  const prefix = new Uint8Array(Math.min(8, size));
  await readExactly(fh, file, prefix, 0, "the header length");
  const headerLength = parseHeaderLength(file, prefix, size);
  const headerBytes = new Uint8Array(headerLength);
  await readExactly(fh, file, headerBytes, 8, "the header");
  return parseSafetensorsHeader(file, headerBytes, size);
}

/** Parses and validates the header of `file` without reading any tensor data. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await openFile(file);
  try {
    return await readHeaderFrom(fh, file);
  } finally {
    await fh.close();
  }
}

function requireFloat(file: string, name: string, info: SafetensorsTensorInfo): FloatDtype {
  if (!isFloatDtype(info.dtype)) {
    throw new SafetensorsError(
      file,
      `dtype ${info.dtype} cannot be read as float32 (supported: F32, F16, BF16); leave it out with the names option or read its bytes with readSafetensorsTensorBytes`,
      { tensor: name, byteOffset: info.byteOffset },
    );
  }
  return info.dtype;
}

async function readFloatTensor(
  fh: FileHandle,
  file: string,
  name: string,
  info: SafetensorsTensorInfo,
): Promise<SafetensorsTensor> {
  const dtype = requireFloat(file, name, info);
  const elements = info.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(elements);
  const what = `tensor ${JSON.stringify(name)}`;
  if (dtype === "F32") {
    await readExactly(fh, file, new Uint8Array(data.buffer), info.byteOffset, what);
  } else {
    const half = new Uint16Array(elements);
    await readExactly(fh, file, new Uint8Array(half.buffer), info.byteOffset, what);
    decodeHalfInto(dtype, half, data);
  }
  return { dtype, shape: [...info.shape], data };
}

function requireNames(header: SafetensorsHeader, names: readonly string[] | undefined): string[] {
  if (names === undefined) return [...header.tensors.keys()];
  if (!Array.isArray(names)) throw new SafetensorsError(header.file, "options.names must be an array of tensor names");
  const missing = names.filter((n) => typeof n !== "string" || !header.tensors.has(n));
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((n) => JSON.stringify(n));
    throw new SafetensorsError(
      header.file,
      `no tensor named ${shown.join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""} (the file has ${header.tensors.size} tensors)`,
    );
  }
  return [...new Set(names)];
}

/**
 * Reads tensors of an already-parsed header (used by the checkpoint reader, which validates every
 * shard's header before reading any data). Tensors are read in file order.
 */
export async function readSafetensorsWithHeader(
  header: SafetensorsHeader,
  names?: readonly string[],
): Promise<Map<string, SafetensorsTensor>> {
  requireLittleEndianHost();
  const wanted = requireNames(header, names);
  // Fail on an unreadable dtype before reading gigabytes of the others.
  for (const name of wanted) requireFloat(header.file, name, header.tensors.get(name)!);
  const wantedSet = new Set(wanted);
  const fh = await openFile(header.file);
  try {
    const { size } = await fh.stat();
    if (size !== header.fileSize) {
      throw new SafetensorsError(header.file, `file is now ${size} bytes, its header was read at ${header.fileSize}`);
    }
    const out = new Map<string, SafetensorsTensor>();
    for (const [name, info] of header.tensors) {
      if (wantedSet.has(name)) out.set(name, await readFloatTensor(fh, header.file, name, info));
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Reads the stored bytes of tensors of an already-parsed header, whatever their dtype, in file order
 * through one file handle: a loader that keeps F16/BF16 weights as 16-bit patterns reads them
 * without a float32 copy.
 */
export async function readSafetensorsRawWithHeader(
  header: SafetensorsHeader,
  names?: readonly string[],
): Promise<Map<string, SafetensorsRawTensor>> {
  requireLittleEndianHost();
  const wantedSet = new Set(requireNames(header, names));
  const fh = await openFile(header.file);
  try {
    const { size } = await fh.stat();
    if (size !== header.fileSize) {
      throw new SafetensorsError(header.file, `file is now ${size} bytes, its header was read at ${header.fileSize}`);
    }
    const out = new Map<string, SafetensorsRawTensor>();
    for (const [name, info] of header.tensors) {
      if (!wantedSet.has(name)) continue;
      const bytes = new Uint8Array(info.byteLength);
      await readExactly(fh, header.file, bytes, info.byteOffset, `tensor ${JSON.stringify(name)}`);
      out.set(name, { dtype: info.dtype, shape: [...info.shape], bytes });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Reads the F32/F16/BF16 tensors of a safetensors file into Float32Arrays, in file order. Any other
 * dtype among the requested tensors is an error naming it (pass `names` to skip it).
 */
export async function readSafetensors(
  file: string,
  options: ReadSafetensorsOptions = {},
): Promise<Map<string, SafetensorsTensor>> {
  const header = await readSafetensorsHeader(file);
  return readSafetensorsWithHeader(header, options.names);
}

/** Reads one F32/F16/BF16 tensor. */
export async function readSafetensorsTensor(file: string, name: string): Promise<SafetensorsTensor> {
  const tensors = await readSafetensors(file, { names: [name] });
  return tensors.get(name)!;
}

/** Reads one tensor's stored bytes, whatever its dtype (e.g. an I64 position-id buffer). */
export async function readSafetensorsTensorBytes(file: string, name: string): Promise<SafetensorsRawTensor> {
  const fh = await openFile(file);
  try {
    const header = await readHeaderFrom(fh, file);
    requireNames(header, [name]);
    const info = header.tensors.get(name)!;
    const bytes = new Uint8Array(info.byteLength);
    await readExactly(fh, file, bytes, info.byteOffset, `tensor ${JSON.stringify(name)}`);
    return { dtype: info.dtype, shape: [...info.shape], bytes };
  } finally {
    await fh.close();
  }
}
