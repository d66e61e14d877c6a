import { randomBytes } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { endianness } from "node:os";
import {
  dtypeByteSize,
  encodeHalfInto,
  FLOAT_DTYPES,
  type FloatDtype,
  isFloatDtype,
  WRITE_ORDER_RANK,
} from "./dtypes.js";
import { SafetensorsError } from "./safetensorsError.js";

/**
 * Writing safetensors files byte-for-byte as the reference implementation (Rust `safetensors`, used
 * by torch and transformers) does: tensors laid out by descending dtype alignment then by name (UTF-8
 * byte order), compact JSON header with `__metadata__` first, padded with spaces to a multiple of 8
 * bytes. `__metadata__` keys are written sorted; the reference writes them in hash order, so files
 * with more than one metadata key match it up to that order only.
 *
 * The file is streamed tensor by tensor (F32 straight from the caller's array, F16/BF16 through a
 * small reused buffer) to a temporary file in the same directory, which is renamed into place at the
 * end, so a crash never leaves a half-written file under the real name.
 */

export interface WritableTensor {
  shape: readonly number[];
  /** Row-major values; length must be the product of `shape`. */
  data: Float32Array;
  /** Stored dtype; default F32. F16/BF16 round to nearest, ties to even. */
  dtype?: FloatDtype;
}

/** Tensors by name: a plain object or a Map (e.g. what readSafetensors returns). */
export type TensorsInput = Readonly<Record<string, WritableTensor>> | ReadonlyMap<string, WritableTensor>;

/** One validated tensor, ready to be laid out. */
export interface PreparedTensor {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  data: Float32Array;
  byteLength: number;
}

// Elements encoded per write for F16/BF16: bounds the scratch memory at 2 MiB.
const ENCODE_CHUNK = 1 << 20;
// One write call is capped below Node's 2 GiB limit.
const MAX_WRITE_BYTES = 1 << 30;

const utf8 = new TextEncoder();

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}

/** Validates the tensors (in the caller's order) — `where` names the destination in messages. */
export function prepareTensors(where: string, tensors: TensorsInput): PreparedTensor[] {
  if (typeof tensors !== "object" || tensors === null) {
    throw new SafetensorsError(
      where,
      `tensors must be an object or a Map of {shape, data, dtype?}, got ${describe(tensors)}`,
    );
  }
  const entries: [string, WritableTensor][] =
    tensors instanceof Map ? [...(tensors as ReadonlyMap<string, WritableTensor>)] : Object.entries(tensors);
  const out: PreparedTensor[] = [];
  for (const [name, tensor] of entries) {
    const fail = (problem: string): never => {
      throw new SafetensorsError(where, problem, { tensor: name });
    };
    if (typeof name !== "string" || name.length === 0) fail("tensor names must be non-empty strings");
    if (name === "__metadata__") fail(`"__metadata__" is reserved by the format and cannot name a tensor`);
    if (/\p{Surrogate}/u.test(name)) fail("name contains an unpaired UTF-16 surrogate, which UTF-8 cannot encode");
    if (typeof tensor !== "object" || tensor === null) fail(`must be {shape, data, dtype?}, got ${describe(tensor)}`);
    const { shape, data } = tensor;
    const dtype = tensor.dtype ?? "F32";
    if (!isFloatDtype(dtype)) fail(`dtype must be one of ${FLOAT_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!(data instanceof Float32Array)) fail(`data must be a Float32Array, got ${describe(data)}`);
    const elements = shape.reduce((a, b) => a * b, 1);
    if (data.length !== elements) {
      fail(`shape [${shape.join(", ")}] has ${elements} elements but data has ${data.length}`);
    }
    out.push({ name, dtype, shape: [...shape], data, byteLength: elements * dtypeByteSize(dtype) });
  }
  return out;
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** The reference layout order: descending dtype alignment, then name. */
export function sortForLayout(tensors: PreparedTensor[]): PreparedTensor[] {
  return [...tensors].sort(
    (a, b) => WRITE_ORDER_RANK[b.dtype] - WRITE_ORDER_RANK[a.dtype] || compareUtf8(a.name, b.name),
  );
}

export function validateMetadata(where: string, metadata: unknown): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new SafetensorsError(where, `metadata must be an object of strings, got ${describe(metadata)}`);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new SafetensorsError(where, `metadata["${key}"] must be a string, got ${describe(value)}`);
    }
  }
  return metadata as Record<string, string>;
}

/**
 * The 8-byte length prefix plus the padded JSON header for tensors already in layout order.
 * Exported for tests and for callers that want to know a file's size before writing it.
 */
export function encodeSafetensorsHeader(
  ordered: readonly PreparedTensor[],
  metadata?: Record<string, string>,
): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(",")}}`);
  }
  let offset = 0;
  for (const t of ordered) {
    const end = offset + t.byteLength;
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = utf8.encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length); // spaces, as the reference pads
  return out;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, MAX_WRITE_BYTES));
    done += bytesWritten;
  }
}

async function writeTensorData(fh: FileHandle, t: PreparedTensor, scratch: Uint16Array): Promise<void> {
  if (t.dtype === "F32") {
    await writeAll(fh, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    return;
  }
  for (let start = 0; start < t.data.length; start += ENCODE_CHUNK) {
    const chunk = scratch.subarray(0, Math.min(ENCODE_CHUNK, t.data.length - start));
    encodeHalfInto(t.dtype, t.data, start, chunk);
    await writeAll(fh, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
}

/** Writes already-validated tensors (any order; they are laid out as the reference does). */
export async function writePreparedSafetensors(
  file: string,
  tensors: PreparedTensor[],
  metadata?: Record<string, string>,
): Promise<void> {
  if (endianness() !== "LE") throw new Error("safetensors: big-endian hosts are not supported");
  const ordered = sortForLayout(tensors);
  const header = encodeSafetensorsHeader(ordered, metadata);
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  let fh: FileHandle;
  try {
    fh = await open(temporary, "w");
  } catch (e) {
    throw new SafetensorsError(file, `cannot create: ${(e as Error).message}`);
  }
  try {
    await writeAll(fh, header);
    const scratch = new Uint16Array(ENCODE_CHUNK);
    for (const t of ordered) await writeTensorData(fh, t, scratch);
    await fh.close();
    await rename(temporary, file);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(file, `write failed: ${(e as Error).message}`);
  }
}

/**
 * Writes `tensors` to `file` in the safetensors format. `metadata` becomes the header's
 * `__metadata__` (transformers writes `{format: "pt"}`; the checkpoint writer adds it for you).
 */
export async function writeSafetensors(
  file: string,
  tensors: TensorsInput,
  metadata?: Record<string, string>,
): Promise<void> {
  if (typeof file !== "string" || file.length === 0) {
    throw new Error(`writeSafetensors: file must be a non-empty path string, got ${JSON.stringify(file)}`);
  }
  const prepared = prepareTensors(file, tensors);
  await writePreparedSafetensors(file, prepared, validateMetadata(file, metadata));
}
