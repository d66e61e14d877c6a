import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { type BackendReport, initBackend } from "../src/index.js";

/**
 * `revela`: wasm as @revela/kernels sets it up (threads, fast kernels).
 * `tfjs-wasm`: the stock wasm backend exactly as tfjs 4.22 ships it (single-threaded under Node,
 * stock BatchMatMul). `tfjs-cpu`: the stock cpu backend. Each impl runs in its own process.
 */
export type Impl = "revela" | "tfjs-wasm" | "tfjs-cpu";

export async function startImpl(impl: Impl): Promise<{ threads: number; report?: BackendReport }> {
  if (impl === "revela") {
    const report = await initBackend({ backend: "wasm" });
    return { threads: report.threads, report };
  }
  const name = impl === "tfjs-wasm" ? "wasm" : "cpu";
  if (!(await tf.setBackend(name))) throw new Error(`bench: tf.setBackend('${name}') failed`);
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { threads: 1 };
}

export function parseImpl(argv: string[]): Impl {
  const i = argv.indexOf("--impl");
  const value = i >= 0 ? argv[i + 1] : undefined;
  if (value !== "revela" && value !== "tfjs-wasm" && value !== "tfjs-cpu") {
    throw new Error(`bench: --impl must be revela, tfjs-wasm or tfjs-cpu, got ${value ?? "nothing"}`);
  }
  return value;
}
