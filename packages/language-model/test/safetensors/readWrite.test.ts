import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsTensor,
  readSafetensorsTensorBytes,
} from "../../src/safetensors/readSafetensors.js";
import { writeSafetensors } from "../../src/safetensors/writeSafetensors.js";
import { assembleSafetensors, float32Bytes, scratchDir, seededFloats, writeBytes } from "./buildSafetensors.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await scratchDir()));
afterAll(() => cleanup());

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe("byte layout", () => {
  it("writes a tiny F32 tensor byte for byte as the reference implementation", async () => {
    const file = join(dir, "attn0.safetensors");
    await writeSafetensors(file, { attn0: { shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    // Worked out by hand: compact JSON (65 bytes) padded with 7 spaces to 72, the length as u64 LE,
    // then 0..5 as little-endian float32 (1.0 = 0x3F800000 → 00 00 80 3F, 2.0 = 0x40000000, ...).
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(65);
    const expected = [
      72,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...ascii(json),
      32,
      32,
      32,
      32,
      32,
      32,
      32,
      0,
      0,
      0,
      0,
      0,
      0,
      128,
      63,
      0,
      0,
      0,
      64,
      0,
      0,
      64,
      64,
      0,
      0,
      128,
      64,
      0,
      0,
      160,
      64,
    ];
    expect([...(await readFile(file))]).toEqual(expected);
  });

  it("writes an empty file, and metadata first, as the reference does", async () => {
    const empty = join(dir, "empty.safetensors");
    await writeSafetensors(empty, {});
    expect([...(await readFile(empty))]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...ascii("{}"), 32, 32, 32, 32, 32, 32]);
    const withMetadata = join(dir, "empty-meta.safetensors");
    await writeSafetensors(withMetadata, {}, { framework: "pt" });
    const json = '{"__metadata__":{"framework":"pt"}}';
    expect([...(await readFile(withMetadata))]).toEqual([40, 0, 0, 0, 0, 0, 0, 0, ...ascii(json), 32, 32, 32, 32, 32]);
    const header = await readSafetensorsHeader(withMetadata);
    expect(header.metadata).toEqual({ framework: "pt" });
    expect(header.tensors.size).toBe(0);
  });

  it("stores F16 and BF16 as their little-endian bit patterns", async () => {
    const file = join(dir, "half.safetensors");
    const data = new Float32Array([1, -2, 0.5]);
    await writeSafetensors(file, { h: { shape: [3], data, dtype: "F16" }, b: { shape: [3], data, dtype: "BF16" } });
    const bytes = await readFile(file);
    const n = Number(bytes.readBigUInt64LE(0));
    // BF16 is laid out before F16 (descending dtype order). 1 = 0x3F80 / 0x3C00, -2 = 0xC000 / 0xC000,
    // 0.5 = 0x3F00 / 0x3800.
    expect([...bytes.subarray(8 + n)]).toEqual([
      0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3f, 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38,
    ]);
    const back = await readSafetensors(file);
    expect([...back.keys()]).toEqual(["b", "h"]);
    expect([...back.get("h")!.data]).toEqual([1, -2, 0.5]);
    expect(back.get("b")!.dtype).toBe("BF16");
  });

  it("lays tensors out by descending dtype, then by UTF-8 name, whatever the input order", async () => {
    const file = join(dir, "order.safetensors");
    const t = (dtype: "F32" | "F16" | "BF16") => ({ shape: [1], data: new Float32Array([1]), dtype });
    await writeSafetensors(file, { z: t("F16"), b: t("F32"), é: t("F32"), a: t("F32"), c: t("BF16"), Z: t("F32") });
    const header = await readSafetensorsHeader(file);
    expect([...header.tensors.keys()]).toEqual(["Z", "a", "b", "é", "c", "z"]);
    expect([...header.tensors.values()].map((i) => i.dataOffsets)).toEqual([
      [0, 4],
      [4, 8],
      [8, 12],
      [12, 16],
      [16, 18],
      [18, 20],
    ]);
    expect(header.headerLength % 8).toBe(0);
  });

  it("reads a hand-assembled file with unsorted header keys, a scalar and an empty tensor", async () => {
    const buffer = new Uint8Array([...float32Bytes([7]), ...float32Bytes([1.5, -2.5])]);
    const file = await writeBytes(
      join(dir, "hand.safetensors"),
      assembleSafetensors(
        {
          v: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
          empty: { dtype: "F32", shape: [0, 3], data_offsets: [12, 12] },
          s: { dtype: "F32", shape: [], data_offsets: [0, 4] },
        },
        buffer,
      ),
    );
    const tensors = await readSafetensors(file);
    expect([...tensors.keys()]).toEqual(["s", "v", "empty"]);
    expect(tensors.get("s")).toEqual({ dtype: "F32", shape: [], data: new Float32Array([7]) });
    expect(tensors.get("v")!.data).toEqual(new Float32Array([1.5, -2.5]));
    expect(tensors.get("empty")!.shape).toEqual([0, 3]);
    expect(tensors.get("empty")!.data.length).toBe(0);
    expect((await readSafetensorsTensor(file, "v")).shape).toEqual([2]);
  });
});

describe("round trips", () => {
  it("F32: read then write gives identical bytes (including NaN payloads and -0)", async () => {
    const a = seededFloats(1000, 1);
    const bits = new Uint32Array(a.buffer);
    bits[3] = 0x7fc12345; // NaN with a payload
    bits[4] = 0xff800001; // signalling-pattern NaN
    bits[5] = 0x80000000; // -0
    const original = join(dir, "f32.safetensors");
    await writeSafetensors(
      original,
      { "model.w": { shape: [10, 100], data: a }, bias: { shape: [3], data: seededFloats(3, 2) } },
      {
        format: "pt",
      },
    );
    const back = await readSafetensors(original);
    const header = await readSafetensorsHeader(original);
    const copy = join(dir, "f32-copy.safetensors");
    await writeSafetensors(copy, back, header.metadata ?? undefined);
    expect(Buffer.compare(await readFile(original), await readFile(copy))).toBe(0);
    expect(new Uint32Array(back.get("model.w")!.data.buffer)[4]).toBe(0xff800001);
  });

  for (const dtype of ["F16", "BF16"] as const) {
    it(`${dtype}: a file holding all 65536 bit patterns reads to float32 and writes back bit-exact`, async () => {
      const patterns = Uint16Array.from({ length: 65536 }, (_, i) => i);
      // Laid out as a reference writer would: compact JSON padded with spaces to a multiple of 8.
      const json = `{"all":{"dtype":"${dtype}","shape":[256,256],"data_offsets":[0,131072]}}`;
      const file = await writeBytes(
        join(dir, `all-${dtype}.safetensors`),
        assembleSafetensors(json.padEnd(Math.ceil(json.length / 8) * 8, " "), new Uint8Array(patterns.buffer)),
      );
      const tensors = await readSafetensors(file);
      expect(tensors.get("all")!.dtype).toBe(dtype);
      const copy = join(dir, `all-${dtype}-copy.safetensors`);
      await writeSafetensors(copy, tensors);
      expect(Buffer.compare(await readFile(file), await readFile(copy))).toBe(0);
    });
  }

  it("F16 tensors larger than the encoder's chunk round trip through the chunked writer", async () => {
    const n = (1 << 20) + 3;
    const values = seededFloats(n, 9);
    const file = join(dir, "big-f16.safetensors");
    await writeSafetensors(file, { big: { shape: [n], data: values, dtype: "F16" } });
    const once = (await readSafetensors(file)).get("big")!;
    const again = join(dir, "big-f16-again.safetensors");
    await writeSafetensors(again, { big: once });
    expect(Buffer.compare(await readFile(file), await readFile(again))).toBe(0);
    // float16 has 11 significant bits: relative error at most 2^-11 in [-1, 1) away from subnormals.
    let worst = 0;
    for (let i = 0; i < n; i += 97) {
      if (Math.abs(values[i]!) > 1e-4)
        worst = Math.max(worst, Math.abs(once.data[i]! - values[i]!) / Math.abs(values[i]!));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(worst).toBeGreaterThan(0);
  });

  it("writes a Float32Array view with a byte offset from its own bytes only", async () => {
    const backing = new Float32Array([9, 9, 1, 2, 3, 9]);
    const file = join(dir, "view.safetensors");
    await writeSafetensors(file, { v: { shape: [3], data: backing.subarray(2, 5) } });
    expect((await readSafetensors(file)).get("v")!.data).toEqual(new Float32Array([1, 2, 3]));
  });
});

describe("selecting and other dtypes", () => {
  it("reads only the named tensors and names the ones that are missing", async () => {
    const file = join(dir, "named.safetensors");
    await writeSafetensors(file, {
      a: { shape: [1], data: new Float32Array([1]) },
      b: { shape: [1], data: new Float32Array([2]) },
    });
    expect([...(await readSafetensors(file, { names: ["b"] })).keys()]).toEqual(["b"]);
    await expect(readSafetensors(file, { names: ["b", "nope"] })).rejects.toThrow(
      /named\.safetensors.*no tensor named "nope"/,
    );
  });

  it("refuses to read I64 as float32, naming tensor and dtype, but returns its bytes on request", async () => {
    const ids = new BigInt64Array([0n, 1n, 2n]);
    const file = await writeBytes(
      join(dir, "i64.safetensors"),
      assembleSafetensors(
        {
          position_ids: { dtype: "I64", shape: [1, 3], data_offsets: [0, 24] },
          w: { dtype: "F32", shape: [1], data_offsets: [24, 28] },
        },
        new Uint8Array([...new Uint8Array(ids.buffer), ...float32Bytes([4])]),
      ),
    );
    await expect(readSafetensors(file)).rejects.toThrow(
      /tensor "position_ids", byte \d+: dtype I64 cannot be read as float32/,
    );
    expect((await readSafetensors(file, { names: ["w"] })).get("w")!.data).toEqual(new Float32Array([4]));
    const raw = await readSafetensorsTensorBytes(file, "position_ids");
    expect(raw.dtype).toBe("I64");
    expect([...new BigInt64Array(raw.bytes.buffer)]).toEqual([0n, 1n, 2n]);
  });
});

describe("write validation", () => {
  const file = () => join(dir, "invalid.safetensors");
  it("names the tensor whose data length does not match its shape", async () => {
    await expect(writeSafetensors(file(), { w: { shape: [2, 3], data: new Float32Array(5) } })).rejects.toThrow(
      /tensor "w".*shape \[2, 3\] has 6 elements but data has 5/,
    );
  });
  it("rejects a non-Float32Array, a bad dtype, a bad shape, a reserved name and non-string metadata", async () => {
    const bad = [
      [{ w: { shape: [2], data: [1, 2] } }, /tensor "w".*Float32Array/],
      [
        { w: { shape: [1], data: new Float32Array(1), dtype: "I32" } },
        /tensor "w".*dtype must be one of F32, F16, BF16/,
      ],
      [{ w: { shape: [1.5], data: new Float32Array(1) } }, /tensor "w".*non-negative integers/],
      [{ __metadata__: { shape: [1], data: new Float32Array(1) } }, /reserved/],
    ] as const;
    for (const [tensors, message] of bad) {
      // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
      await expect(writeSafetensors(file(), tensors as any)).rejects.toThrow(message);
    }
    // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
    await expect(writeSafetensors(file(), {}, { step: 3 } as any)).rejects.toThrow(
      /metadata\["step"\] must be a string/,
    );
  });
});
