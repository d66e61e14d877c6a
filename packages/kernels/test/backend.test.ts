import * as tf from "@tensorflow/tfjs";
import * as tfWasm from "@tensorflow/tfjs-backend-wasm";
import { afterEach, describe, expect, it } from "vitest";
import { formatBackendReport, getBackendReport, initBackend, isFastMatMulRegistered } from "../src/index.js";

describe("initBackend", () => {
  const savedEnv = { ...process.env };
  afterEach(() => {
    process.env = { ...savedEnv };
  });

  it("starts wasm with the requested number of threads (more than stock tfjs allows under Node)", async () => {
    const report = await initBackend({ backend: "wasm", threads: 2 });
    expect(report.backend).toBe("wasm");
    expect(report.threads).toBe(2);
    // The C++ thread pool itself, not only our bookkeeping:
    expect(tfWasm.getThreadsCount()).toBe(2);
    expect(tf.getBackend()).toBe("wasm");
    expect(isFastMatMulRegistered()).toBe(true);
    expect(formatBackendReport(report)).toMatch(/backend: wasm \(2 threads, simd on, fast matmul on/);
  });

  it("computes correctly on the threaded pool (a product large enough to be split across threads)", async () => {
    await initBackend({ backend: "wasm" });
    const n = 96;
    const a = tf.tidy(() => tf.reshape(tf.range(0, n * n), [n, n]).div(n * n));
    const out = tf.tidy(() => tf.matMul(a, tf.eye(n)));
    expect(Array.from(out.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, out]);
  });

  it("refuses to change the thread count of a running wasm backend", async () => {
    await expect(initBackend({ backend: "wasm", threads: 1 })).rejects.toThrow(/already runs with 2 threads/);
  });

  it("switches between started backends and back", async () => {
    const cpu = await initBackend({ backend: "cpu" });
    expect(cpu.backend).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(getBackendReport()?.backend).toBe("cpu");
    const wasm = await initBackend({ backend: "wasm" });
    expect(wasm.threads).toBe(2);
    expect(tf.getBackend()).toBe("wasm");
  });

  it("honours REVELA_BACKEND", async () => {
    process.env.REVELA_BACKEND = "cpu";
    expect((await initBackend()).backend).toBe("cpu");
    process.env.REVELA_BACKEND = "wasm";
    expect((await initBackend()).backend).toBe("wasm");
  });

  it("names the variable and the choices for a bad REVELA_BACKEND", async () => {
    process.env.REVELA_BACKEND = "webgpu";
    await expect(initBackend()).rejects.toThrow(
      /REVELA_BACKEND must be one of tensorflow-gpu, tensorflow, wasm, cpu, got "webgpu"/,
    );
  });

  it("says how to install a forced native backend that is missing", async () => {
    await expect(initBackend({ backend: "tensorflow" })).rejects.toThrow(/npm install @tensorflow\/tfjs-node@4\.22\.0/);
    await expect(initBackend({ backend: "tensorflow-gpu" })).rejects.toThrow(
      /npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/,
    );
  });

  it("rejects thread counts outside 1..8, naming the source", async () => {
    await expect(initBackend({ backend: "wasm", threads: 0 })).rejects.toThrow(
      /options\.threads must be an integer from 1 to 8 .*got 0/,
    );
    process.env.REVELA_THREADS = "many";
    await expect(initBackend({ backend: "wasm" })).rejects.toThrow(
      /REVELA_THREADS must be an integer from 1 to 8 .*got many/,
    );
  });
});
