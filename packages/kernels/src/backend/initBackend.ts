import os from "node:os";
import * as tf from "@tensorflow/tfjs";
import * as tfWasm from "@tensorflow/tfjs-backend-wasm";
import { guardWasmHeap } from "../wasm/heapGuard.js";
import { registerWasmKernels } from "../wasm/registerWasmKernels.js";
import type { BackendWasmInternals } from "../wasm/wasmInternals.js";
import { loadNativeBackend, type NativeBackendName } from "./nativeBackend.js";
import { MAX_WASM_THREADS, withWasmThreadShims } from "./wasmThreads.js";

export const BACKEND_NAMES = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface InitBackendOptions {
  /** Force a backend instead of picking the best available. Overrides `REVELA_BACKEND`. */
  backend?: BackendName;
  /** wasm threads (1–8). Default: `REVELA_THREADS`, else the number of cores (at most 8). */
  threads?: number;
  /** Print the report line to stderr. */
  verbose?: boolean;
}

export interface BackendReport {
  /** Our name for the backend (`tensorflow-gpu`, `tensorflow`, `wasm`, `cpu`). */
  backend: BackendName;
  /** The name tfjs knows it by (`tf.getBackend()`). */
  tfjsBackend: string;
  /** Threads the backend computes with (for native backends, as TensorFlow decides: reported as cores). */
  threads: number;
  /** wasm only: whether the SIMD build is in use. */
  simd?: boolean;
  /** wasm only: whether this package's fast matmul kernel is registered. */
  fastMatMul?: boolean;
  /** Backends that were tried before this one, with the reason they were skipped. */
  skipped: { backend: BackendName; reason: string }[];
  tfjsVersion: string;
  cores: number;
}

const TFJS_NAME: Record<BackendName, string> = {
  "tensorflow-gpu": "tensorflow",
  tensorflow: "tensorflow",
  wasm: "wasm",
  cpu: "cpu",
};

let current: BackendReport | undefined;
const started = new Map<BackendName, BackendReport>();

function parseBackend(value: string, source: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`initBackend: ${source} must be one of ${BACKEND_NAMES.join(", ")}, got "${value}"`);
}

function coreCount(): number {
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

function resolveThreads(requested: number | undefined): number {
  const envThreads = process.env.REVELA_THREADS;
  let threads = requested;
  let source = "options.threads";
  if (threads === undefined && envThreads !== undefined && envThreads !== "") {
    threads = Number(envThreads);
    source = "REVELA_THREADS";
  }
  if (threads === undefined) return Math.min(coreCount(), MAX_WASM_THREADS);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(
      `initBackend: ${source} must be an integer from 1 to ${MAX_WASM_THREADS} (tfjs-backend-wasm 4.22 starts ${MAX_WASM_THREADS} pthread workers), got ${String(requested ?? envThreads)}`,
    );
  }
  return threads;
}

async function initWasm(threads: number): Promise<Pick<BackendReport, "threads" | "simd">> {
  registerWasmKernels();
  const simd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
  const multi = threads > 1 && simd;
  // Stock tfjs-backend-wasm refuses threads under Node; we enable them (see wasmThreads.ts).
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", multi);
  tfWasm.setThreadsCount(threads);
  const ok = multi ? await withWasmThreadShims(threads, () => tf.setBackend("wasm")) : await tf.setBackend("wasm");
  if (!ok) throw new Error("initBackend: the wasm backend failed to initialise (tf.setBackend('wasm') returned false)");
  guardWasmHeap(tf.backend() as unknown as BackendWasmInternals);
  const actual = tfWasm.getThreadsCount();
  if (actual !== threads) {
    throw new Error(`initBackend: asked the wasm backend for ${threads} threads but it started ${actual}`);
  }
  return { threads: actual, simd };
}

async function tryBackend(name: BackendName, threads: number): Promise<Pick<BackendReport, "threads" | "simd">> {
  if (name === "wasm") return initWasm(threads);
  if (name === "cpu") {
    if (!(await tf.setBackend("cpu"))) throw new Error("initBackend: the cpu backend failed to initialise");
    // The cpu backend prints a banner about tfjs-node on first use; our report says the same.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return { threads: 1 };
  }
  const failure = await loadNativeBackend(name as NativeBackendName);
  if (failure) throw new Error(failure);
  if (!(await tf.setBackend("tensorflow"))) throw new Error(`initBackend: the ${name} backend failed to initialise`);
  return { threads: coreCount() };
}

/**
 * Picks and initialises a tfjs backend: the forced one (`options.backend`, else `REVELA_BACKEND`),
 * or the best available of tensorflow-gpu, tensorflow, wasm, cpu. Safe to call again: a call that
 * asks for the backend already running returns its report.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  if (options !== null && typeof options !== "object") {
    throw new Error(`initBackend: options must be an object, got ${typeof options}`);
  }
  const envBackend = process.env.REVELA_BACKEND;
  const forced =
    options.backend !== undefined
      ? parseBackend(options.backend, "options.backend")
      : envBackend
        ? parseBackend(envBackend, "REVELA_BACKEND")
        : undefined;
  const wantedThreads = forced === "wasm" || forced === undefined ? resolveThreads(options.threads) : 1;
  const already = forced ? started.get(forced) : current;
  if (already) {
    if (already.backend === "wasm" && options.threads !== undefined && options.threads !== already.threads) {
      throw new Error(
        `initBackend: the wasm backend already runs with ${already.threads} threads; the thread count is fixed once it starts (asked for ${options.threads})`,
      );
    }
    if (tf.getBackend() !== already.tfjsBackend && !(await tf.setBackend(already.tfjsBackend))) {
      throw new Error(`initBackend: could not switch back to the ${already.backend} backend`);
    }
    current = already;
    return finish(already, options.verbose);
  }
  const candidates: BackendName[] = forced ? [forced] : [...BACKEND_NAMES];
  const skipped: BackendReport["skipped"] = [];
  for (const name of candidates) {
    try {
      const { threads, simd } = await tryBackend(name, wantedThreads);
      current = {
        backend: name,
        tfjsBackend: TFJS_NAME[name],
        threads,
        ...(simd !== undefined ? { simd } : {}),
        ...(name === "wasm" ? { fastMatMul: true } : {}),
        skipped,
        tfjsVersion: tf.version.tfjs,
        cores: coreCount(),
      };
      started.set(name, current);
      return finish(current, options.verbose);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (forced) {
        throw new Error(
          `initBackend: backend "${name}" was forced (${options.backend ? "options.backend" : "REVELA_BACKEND"}) but is unavailable: ${reason}`,
        );
      }
      skipped.push({ backend: name, reason });
    }
  }
  throw new Error(
    `initBackend: no backend could be initialised: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join("; ")}`,
  );
}

function finish(report: BackendReport, verbose: boolean | undefined): BackendReport {
  if (verbose) process.stderr.write(`${formatBackendReport(report)}\n`);
  return report;
}

/** The report as one human-readable line. */
export function formatBackendReport(report: BackendReport): string {
  const extras = [
    `${report.threads} thread${report.threads === 1 ? "" : "s"}`,
    report.simd !== undefined ? `simd ${report.simd ? "on" : "off"}` : undefined,
    report.fastMatMul !== undefined ? `fast matmul ${report.fastMatMul ? "on" : "off"}` : undefined,
    `${report.cores} cores`,
    `tfjs ${report.tfjsVersion}`,
  ].filter(Boolean);
  const skipped = report.skipped.length
    ? `; skipped ${report.skipped.map((s) => `${s.backend} (${s.reason.split(". ")[0]})`).join(", ")}`
    : "";
  return `@revela/kernels backend: ${report.backend} (${extras.join(", ")})${skipped}`;
}

/** The report of the backend `initBackend` started, if any. */
export function getBackendReport(): BackendReport | undefined {
  return current;
}
