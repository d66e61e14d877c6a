import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSafetensors, readSafetensorsHeader } from "../../src/safetensors/readSafetensors.js";
import { SafetensorsError } from "../../src/safetensors/safetensorsError.js";
import { writeSafetensors } from "../../src/safetensors/writeSafetensors.js";
import { assembleSafetensors, float32Bytes, scratchDir, writeBytes } from "./buildSafetensors.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await scratchDir()));
afterAll(() => cleanup());

let counter = 0;
async function headerError(header: string | object, buffer: Uint8Array = new Uint8Array(0)): Promise<SafetensorsError> {
  const file = await writeBytes(join(dir, `case-${counter++}.safetensors`), assembleSafetensors(header, buffer));
  try {
    await readSafetensorsHeader(file);
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as Error).message).toContain(file);
    return e as SafetensorsError;
  }
  throw new Error(`expected ${JSON.stringify(header)} to be rejected`);
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

describe("truncated files", () => {
  it("a file cut inside a tensor names the tensor and the byte where it would end", async () => {
    const file = join(dir, "whole.safetensors");
    await writeSafetensors(file, {
      a: { shape: [4], data: new Float32Array(4) },
      b: { shape: [4], data: new Float32Array(4) },
    });
    const bytes = await readFile(file);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    const cut = await writeBytes(join(dir, "cut.safetensors"), bytes.subarray(0, bytes.length - 5));
    const error = (await readSafetensors(cut).then(
      () => undefined,
      (e: unknown) => e,
    )) as SafetensorsError;
    expect(error).toBeInstanceOf(SafetensorsError);
    expect(error.tensor).toBe("b");
    expect(error.byteOffset).toBe(dataStart + 16);
    expect(error.message).toMatch(
      new RegExp(
        `cut\\.safetensors, tensor "b", byte ${dataStart + 16}: .*would end at byte ${dataStart + 32} but the file is ${bytes.length - 5} bytes \\(truncated\\?\\)`,
      ),
    );
  });

  it("a file shorter than the length prefix", async () => {
    const file = await writeBytes(join(dir, "tiny.safetensors"), new Uint8Array([1, 2, 3]));
    await expect(readSafetensorsHeader(file)).rejects.toThrow(
      /tiny\.safetensors, byte 0: file is 3 bytes, shorter than the 8-byte/,
    );
  });

  it("a header length beyond the end of the file", async () => {
    const bytes = assembleSafetensors("{}");
    new DataView(bytes.buffer).setBigUint64(0, 500n, true);
    const file = await writeBytes(join(dir, "long-header.safetensors"), bytes);
    await expect(readSafetensorsHeader(file)).rejects.toThrow(
      /header length 500 .*would end at byte 508 but the file is 10 bytes/,
    );
  });

  it("an absurd header length (not a safetensors file)", async () => {
    const bytes = new TextEncoder().encode("PK\u0003\u0004 this is a zip file, not safetensors");
    const file = await writeBytes(join(dir, "zip.safetensors"), bytes);
    await expect(readSafetensorsHeader(file)).rejects.toThrow(/above the 100000000-byte limit/);
  });

  it("a missing file names the path", async () => {
    await expect(readSafetensors(join(dir, "absent.safetensors"))).rejects.toThrow(
      /absent\.safetensors: cannot open: ENOENT/,
    );
  });
});

describe("bad headers", () => {
  it("invalid JSON", async () => {
    const e = await headerError('{"a": {"dtype": "F32",');
    expect(e.message).toMatch(/byte 8: header \(bytes 8-\d+\) is not valid JSON/);
  });

  it("invalid UTF-8", async () => {
    const bytes = assembleSafetensors('{"a":1}');
    bytes[10] = 0xff;
    const file = await writeBytes(join(dir, "utf8.safetensors"), bytes);
    await expect(readSafetensorsHeader(file)).rejects.toThrow(/not valid UTF-8/);
  });

  it("a header that is not an object, and entries that are not objects", async () => {
    expect((await headerError("[1, 2]")).message).toMatch(/header must be a JSON object, got an array/);
    const e = await headerError({ w: 3 });
    expect(e.tensor).toBe("w");
    expect(e.message).toMatch(/tensor "w", byte 8: header entry must be an object/);
  });

  it("an unknown dtype names the tensor and the dtype", async () => {
    const e = await headerError({ w: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16));
    expect(e.message).toMatch(/tensor "w".*unknown dtype string "F128" \(known: BOOL, .*F16, BF16, .*F32/);
  });

  it("shapes that are not arrays of non-negative integers", async () => {
    for (const shape of [[-1], [1.5], "4", [null]]) {
      const e = await headerError({ w: { dtype: "F32", shape, data_offsets: [0, 4] } }, new Uint8Array(4));
      expect(e.message).toMatch(/tensor "w".*shape must be an array of non-negative integers/);
    }
  });

  it("data_offsets that are not [begin, end] or run backwards", async () => {
    for (const offsets of [[0], [0, 4, 8], ["0", 4], [-4, 0]]) {
      const e = await headerError({ w: { dtype: "F32", shape: [1], data_offsets: offsets } }, new Uint8Array(4));
      expect(e.message).toMatch(/data_offsets must be \[begin, end\]/);
    }
    const e = await headerError({ w: f32([0], 4, 0) }, new Uint8Array(4));
    expect(e.message).toMatch(/data_offsets \[4, 0\] end before they begin/);
  });

  it("a byte size that does not match shape × dtype size", async () => {
    const e = await headerError({ w: f32([2, 3], 0, 20) }, new Uint8Array(20));
    expect(e.message).toMatch(
      /tensor "w", byte \d+: shape \[2, 3\] of F32 needs 6 × 4 = 24 bytes, but data_offsets \[0, 20\] span 20/,
    );
  });

  it("overlapping tensors name both tensors and the byte", async () => {
    const e = await headerError({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, new Uint8Array(12));
    expect(e.tensor).toBe("b");
    expect(e.message).toMatch(
      /tensor "b", byte \d+: data_offsets \[4, 12\] overlap tensor "a", which ends at buffer offset 8/,
    );
    expect(e.byteOffset).toBe(8 + JSON.stringify({ a: f32([2], 0, 8), b: f32([2], 4, 12) }).length + 4);
  });

  it("a gap between tensors, and bytes after the last tensor", async () => {
    const gap = await headerError({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Uint8Array(12));
    expect(gap.message).toMatch(/buffer bytes \[4, 8\) .* belong to no tensor/);
    const trailing = await headerError({ a: f32([1], 0, 4) }, new Uint8Array(6));
    expect(trailing.message).toMatch(/2 trailing bytes after the last tensor/);
  });

  it("__metadata__ must map strings to strings", async () => {
    const e = await headerError({ __metadata__: { step: 3 } });
    expect(e.message).toMatch(/"__metadata__"\."step" must be a string, got number 3/);
  });

  it("a valid header parses, with absolute byte offsets", async () => {
    const header = { a: f32([1], 0, 4), b: f32([2], 4, 12) };
    const file = await writeBytes(join(dir, "ok.safetensors"), assembleSafetensors(header, float32Bytes([1, 2, 3])));
    const parsed = await readSafetensorsHeader(file);
    const dataStart = 8 + JSON.stringify(header).length;
    expect(parsed.dataStart).toBe(dataStart);
    expect(parsed.tensors.get("b")).toEqual({
      dtype: "F32",
      shape: [2],
      dataOffsets: [4, 12],
      byteOffset: dataStart + 4,
      byteLength: 8,
    });
  });
});
