import { createHash } from "node:crypto";
import { type FileHandle, open, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { requireTensorRecord, shapeSize, type TensorRecord } from "./checkpointData.js";

/**
 * The tensor format of a checkpoint: `tensors.bin` holds the float32 values of every tensor back to
 * back (little-endian, in manifest order); `tensors.json` is the manifest. Loading checks every
 * field, that the pieces tile the file exactly, and the SHA-256 of the file, so a truncated or
 * corrupted checkpoint fails with the file and tensor named instead of loading garbage.
 */
export interface TensorManifest {
  format: "revela-tensors";
  version: 1;
  dtype: "float32";
  byteLength: number;
  sha256: string;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

export const MANIFEST_FILE = "tensors.json";
export const DATA_FILE = "tensors.bin";

function requireLittleEndian(): void {
  if (os.endianness() !== "LE") throw new Error("checkpoint tensors are little-endian; this machine is big-endian");
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
}

/** Writes `tensors.bin` and `tensors.json` into `dir` and fsyncs both. */
export async function writeTensorFiles(dir: string, tensors: Record<string, TensorRecord>): Promise<void> {
  requireLittleEndian();
  const entries = Object.entries(tensors);
  const manifest: TensorManifest = {
    format: "revela-tensors",
    version: 1,
    dtype: "float32",
    byteLength: 0,
    sha256: "",
    tensors: [],
  };
  const hash = createHash("sha256");
  const data = await open(path.join(dir, DATA_FILE), "w");
  try {
    for (const [name, record] of entries) {
      const bytes = new Uint8Array(record.data.buffer, record.data.byteOffset, record.data.byteLength);
      manifest.tensors.push({
        name,
        shape: [...record.shape],
        offset: manifest.byteLength,
        length: record.data.length,
      });
      hash.update(bytes);
      await writeAll(data, bytes);
      manifest.byteLength += bytes.length;
    }
    await data.sync();
  } finally {
    await data.close();
  }
  manifest.sha256 = hash.digest("hex");
  const json = await open(path.join(dir, MANIFEST_FILE), "w");
  try {
    await writeAll(json, new TextEncoder().encode(`${JSON.stringify(manifest)}\n`));
    await json.sync();
  } finally {
    await json.close();
  }
}

/** Checks a record map before anything is written: names non-empty, shapes matching data. */
export function requireTensorMap(op: string, tensors: unknown): Record<string, TensorRecord> {
  if (tensors === null || typeof tensors !== "object" || Array.isArray(tensors)) {
    throw new Error(`${op}: tensors must be a {name: {shape, data}} object`);
  }
  for (const [name, record] of Object.entries(tensors)) {
    if (name === "") throw new Error(`${op}: tensor names must be non-empty`);
    requireTensorRecord(record, `${op}: tensor "${name}"`);
  }
  return tensors as Record<string, TensorRecord>;
}

/** Reads and fully validates the tensors of a checkpoint directory. */
export async function readTensorFiles(dir: string): Promise<Record<string, TensorRecord>> {
  requireLittleEndian();
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const dataFile = path.join(dir, DATA_FILE);
  let manifest: TensorManifest;
  try {
    manifest = JSON.parse(await readFile(manifestFile, "utf8")) as TensorManifest;
  } catch (error) {
    throw new Error(`${manifestFile}: cannot read the tensor manifest: ${(error as Error).message}`);
  }
  const bad = (field: string, problem: string) => new Error(`${manifestFile}: ${field} ${problem}`);
  if (manifest === null || typeof manifest !== "object") throw bad("manifest", "must be a JSON object");
  if (manifest.format !== "revela-tensors" || manifest.version !== 1) {
    throw bad(
      "format/version",
      `must be "revela-tensors" version 1, got ${JSON.stringify(manifest.format)} version ${JSON.stringify(manifest.version)}`,
    );
  }
  if (manifest.dtype !== "float32") throw bad("dtype", `must be "float32", got ${JSON.stringify(manifest.dtype)}`);
  if (!Number.isInteger(manifest.byteLength) || manifest.byteLength < 0)
    throw bad("byteLength", "must be a non-negative integer");
  if (typeof manifest.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(manifest.sha256))
    throw bad("sha256", "must be 64 hex digits");
  if (!Array.isArray(manifest.tensors)) throw bad("tensors", "must be an array");
  const bytes = await readFile(dataFile).catch((error: Error) => {
    throw new Error(`${dataFile}: cannot read tensor data: ${error.message}`);
  });
  if (bytes.length !== manifest.byteLength) {
    throw new Error(
      `${dataFile}: has ${bytes.length} bytes, the manifest says ${manifest.byteLength} (truncated or replaced?)`,
    );
  }
  const digest = createHash("sha256").update(bytes).digest("hex");
  if (digest !== manifest.sha256)
    throw new Error(`${dataFile}: SHA-256 ${digest} does not match the manifest's ${manifest.sha256} (corrupted?)`);
  const out: Record<string, TensorRecord> = {};
  let expectedOffset = 0;
  manifest.tensors.forEach((t, i) => {
    const field = `tensors[${i}]`;
    if (t === null || typeof t !== "object" || typeof t.name !== "string" || t.name === "")
      throw bad(`${field}.name`, "must be a non-empty string");
    if (Object.hasOwn(out, t.name)) throw bad(`${field}.name`, `repeats "${t.name}"`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw bad(`${field}.shape`, `must be non-negative integers (tensor "${t.name}")`);
    }
    if (t.length !== shapeSize(t.shape)) {
      throw bad(
        `${field}.length`,
        `is ${t.length}, shape [${t.shape.join(", ")}] has ${shapeSize(t.shape)} values (tensor "${t.name}")`,
      );
    }
    if (t.offset !== expectedOffset)
      throw bad(`${field}.offset`, `is ${t.offset}, expected ${expectedOffset} (tensor "${t.name}")`);
    // A copy: aligned for Float32Array and independent of the file buffer.
    const data = new Float32Array(t.length);
    new Uint8Array(data.buffer).set(bytes.subarray(t.offset, t.offset + t.length * 4));
    out[t.name] = { shape: t.shape, data };
    expectedOffset += t.length * 4;
  });
  if (expectedOffset !== manifest.byteLength) {
    throw bad("tensors", `cover ${expectedOffset} bytes of ${manifest.byteLength}`);
  }
  return out;
}
