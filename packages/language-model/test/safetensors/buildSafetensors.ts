import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Test helpers: hand-assembled safetensors bytes, and scratch directories. */

/** 8-byte little-endian length + `header` (JSON text or object, unpadded) + `buffer`. */
export function assembleSafetensors(header: string | object, buffer: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(buffer, 8 + json.length);
  return out;
}

export function float32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

export async function scratchDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "revela-safetensors-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeBytes(file: string, bytes: Uint8Array): Promise<string> {
  await writeFile(file, bytes);
  return file;
}

/** A deterministic pseudo-random Float32Array (values in [-1, 1)). */
export function seededFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}
