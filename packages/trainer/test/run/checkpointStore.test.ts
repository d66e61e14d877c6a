import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import type { CheckpointData } from "../../src/run/checkpointData.js";
import { CheckpointStore } from "../../src/run/checkpointStore.js";

// Crash simulation: fs/promises calls made by the store fail on demand, mid-save.
const crash = vi.hoisted(() => ({ onOpenOf: undefined as string | undefined, onRename: false }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...actual,
    open: (file: string, ...rest: [string]) => {
      if (crash.onOpenOf && String(file).endsWith(crash.onOpenOf)) return Promise.reject(new Error("simulated crash"));
      return actual.open(file, ...rest);
    },
    rename: (from: string, to: string) => {
      if (crash.onRename && String(from).includes(".tmp-")) return Promise.reject(new Error("simulated crash"));
      return actual.rename(from, to);
    },
  };
});

const root = mkdtempSync(path.join(os.tmpdir(), "revela-ckpt-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  crash.onOpenOf = undefined;
  crash.onRename = false;
});
let n = 0;
const runDir = () => path.join(root, `run${n++}`);

const data = (seed: number): CheckpointData => ({
  tensors: {
    "model/w": { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6].map((x) => x * seed + 0.1)) },
    "model/b": { shape: [], data: Float32Array.of(-seed) },
    empty: { shape: [0, 4], data: new Float32Array(0) },
  },
  state: { optimizer: { step: seed }, note: "hello" },
});

describe("CheckpointStore", () => {
  it("saves and loads named float32 tensors and the state exactly", async () => {
    const store = new CheckpointStore(runDir());
    const dir = await store.save(12, data(3));
    expect(path.basename(dir)).toBe("step-00000012");
    expect(readdirSync(dir).sort()).toEqual(["state.json", "tensors.bin", "tensors.json"]);
    const loaded = await store.load(12);
    expect(loaded.step).toBe(12);
    expect(loaded.tensors).toEqual(data(3).tensors);
    expect(loaded.state).toEqual({ step: 12, ...data(3).state });
    expect((await store.latest())?.step).toBe(12);
  });

  it("keeps the newest K checkpoints and finds the latest", async () => {
    const store = new CheckpointStore(runDir(), { keep: 2 });
    expect(await store.latest()).toBeUndefined();
    for (const step of [5, 10, 15, 20]) await store.save(step, data(step));
    expect(await store.steps()).toEqual([15, 20]);
    expect((await store.latest())?.tensors["model/b"]?.data[0]).toBe(-20);
    await expect(store.load(5)).rejects.toThrow(/no checkpoint for step 5 in .*checkpoints \(have: 15, 20\)/);
  });

  it("leaves the previous checkpoint intact when a save crashes midway (after the tensors, before the state)", async () => {
    const store = new CheckpointStore(runDir());
    await store.save(10, data(1));
    crash.onOpenOf = "state.json";
    await expect(store.save(20, data(2))).rejects.toThrow(/simulated crash/);
    crash.onOpenOf = undefined;
    expect(await store.steps()).toEqual([10]);
    const latest = await store.latest();
    expect(latest?.step).toBe(10);
    expect(latest?.tensors).toEqual(data(1).tensors);
  });

  it("leaves the previous checkpoint intact when the crash hits the final rename, also when replacing the same step", async () => {
    const store = new CheckpointStore(runDir());
    await store.save(10, data(1));
    crash.onRename = true;
    await expect(store.save(20, data(2))).rejects.toThrow(/simulated crash/);
    await expect(store.save(10, data(9))).rejects.toThrow(/simulated crash/);
    crash.onRename = false;
    expect(await store.steps()).toEqual([10]);
    expect((await store.load(10)).tensors).toEqual(data(1).tensors);
    await store.save(10, data(9));
    expect((await store.load(10)).tensors).toEqual(data(9).tensors);
  });

  it("ignores a half-written temp directory left by a killed process, and clears it on the next save", async () => {
    const store = new CheckpointStore(runDir());
    await store.save(1, data(1));
    const leftover = path.join(store.dir, ".tmp-step-00000002-999-abcd");
    mkdirSync(leftover);
    writeFileSync(path.join(leftover, "tensors.bin"), "partial");
    expect((await store.latest())?.step).toBe(1);
    await store.save(3, data(3));
    expect(readdirSync(store.dir).sort()).toEqual(["step-00000001", "step-00000003"]);
  });

  it("still finds a checkpoint a killed re-save had moved aside, and puts it back on the next save", async () => {
    const store = new CheckpointStore(runDir());
    await store.save(4, data(4));
    await store.save(8, data(8));
    // As if killed between moving step 8 aside and renaming its replacement into place.
    renameSync(path.join(store.dir, "step-00000008"), path.join(store.dir, ".old-step-00000008-1-ffff"));
    expect(await store.steps()).toEqual([4, 8]);
    expect((await store.latest())?.tensors).toEqual(data(8).tensors);
    await store.save(9, data(9));
    expect(readdirSync(store.dir).sort()).toEqual(["step-00000004", "step-00000008", "step-00000009"]);
  });

  it("detects truncated or corrupted tensor data, naming the file", async () => {
    const store = new CheckpointStore(runDir());
    const dir = await store.save(7, data(7));
    const bin = path.join(dir, "tensors.bin");
    truncateSync(bin, 10);
    await expect(store.load(7)).rejects.toThrow(
      new RegExp(`${bin.replace(/[.]/g, "\\.")}: has 10 bytes, the manifest says 28`),
    );
    await store.save(7, data(7));
    writeFileSync(bin, Buffer.alloc(28));
    await expect(store.load(7)).rejects.toThrow(/SHA-256 .* does not match/);
  });

  it("validates what it is given", async () => {
    const store = new CheckpointStore(runDir());
    await expect(store.save(-1, data(1))).rejects.toThrow(/step must be a non-negative integer, got -1/);
    await expect(
      store.save(1, { tensors: { w: { shape: [3], data: new Float32Array(2) } }, state: {} }),
    ).rejects.toThrow(/tensor "w": shape \[3\] needs 3 values, data has 2/);
    await expect(
      store.save(1, { tensors: { w: { shape: [1], data: [1] as unknown as Float32Array } }, state: {} }),
    ).rejects.toThrow(/tensor "w"\.data must be a Float32Array, got Array/);
    await expect(store.save(1, { tensors: {}, state: { step: 1 } })).rejects.toThrow(/data\.state\.step is reserved/);
    expect(() => new CheckpointStore(runDir(), { keep: 0 })).toThrow(
      /options\.keep must be a positive integer or Infinity/,
    );
    expect(await store.steps()).toEqual([]);
  });
});
