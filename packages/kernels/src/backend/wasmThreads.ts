import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { Worker as NodeWorker, type WorkerOptions } from "node:worker_threads";

/**
 * Makes tfjs-backend-wasm 4.22 run multi-threaded under Node.
 *
 * Stock 4.22 is single-threaded in Node for three reasons, each handled here:
 * 1. `WASM_HAS_MULTITHREAD_SUPPORT` returns false whenever `IS_NODE` is set — the caller sets the
 *    flag explicitly.
 * 2. The pthread worker script is handed to `new Worker()` as a `blob:` URL, which Node's
 *    worker_threads rejects, and the worker then imports the main script from a Blob too. We
 *    install a `Worker` class on `globalThis` (the Emscripten glue looks it up there at every
 *    pthread spawn) that evaluates the worker source from the package instead, with the main
 *    script loaded from its file.
 * 3. The C++ side sizes its pool as min(requested, logicalCores / 2) — it assumes two hyperthreads
 *    per core. In Node the glue reads the core count from `os.cpus()`, so for the duration of
 *    backend initialisation we report `2 × requested` logical cores.
 */

/** Emscripten's thread pool in tfjs-backend-wasm 4.22 is fixed at 8 workers at build time. */
export const MAX_WASM_THREADS = 8;

const requireHere = createRequire(import.meta.url);

function wasmPackageDir(): string {
  return path.dirname(requireHere.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
}

let workerSource: string | undefined;

function pthreadWorkerSource(): string {
  if (workerSource !== undefined) return workerSource;
  const dir = wasmPackageDir();
  const factoryPath = path.join(dir, "wasm-out", "tfjs-backend-wasm-threaded-simd.js");
  const { wasmWorkerContents } = requireHere(
    path.join(dir, "wasm-out", "tfjs-backend-wasm-threaded-simd.worker.js"),
  ) as { wasmWorkerContents: string };
  // The worker source is a JS string literal whose "\n" escapes were turned into real newlines.
  const escaped = wasmWorkerContents.replace(/\n/g, "\\n");
  const blobImport = /if\(typeof e\.data\.urlOrBlob=="string"\)\{importScripts\(e\.data\.urlOrBlob\)\}else\{[^}]*\}/;
  if (!blobImport.test(escaped)) {
    throw new Error(
      `@revela/kernels: cannot enable wasm threads: the pthread worker of @tensorflow/tfjs-backend-wasm at ${dir} ` +
        "does not have the layout of version 4.22.0 this package was written against. Pin @tensorflow/tfjs-backend-wasm@4.22.0 or pass { threads: 1 }.",
    );
  }
  workerSource = escaped.replace(blobImport, `importScripts(${JSON.stringify(factoryPath)});`);
  return workerSource;
}

class EmscriptenNodeWorker extends NodeWorker {
  constructor(url: string | URL, options?: WorkerOptions) {
    if (typeof url === "string" && url.startsWith("blob:")) {
      super(pthreadWorkerSource(), { eval: true });
      this.pthreadWorker = true;
      this.unref();
    } else {
      super(url, options);
    }
  }

  private pthreadWorker = false;

  // The glue ref()s a worker when it starts a pthread on it, and XNNPACK's pool threads live
  // forever, so a program would never exit. They must not keep the process alive.
  override ref(): void {
    if (!this.pthreadWorker) super.ref();
  }
}

/**
 * Runs `init` (which must initialise the threaded wasm backend) with the Node shims in place,
 * then removes them. Returns what `init` returns.
 */
export async function withWasmThreadShims<T>(threads: number, init: () => Promise<T>): Promise<T> {
  pthreadWorkerSource(); // fail early, before touching globals, if the package layout is unknown
  const previousWorker = Object.getOwnPropertyDescriptor(globalThis, "Worker");
  Object.defineProperty(globalThis, "Worker", {
    configurable: true,
    get: () => EmscriptenNodeWorker,
    // The glue assigns `global.Worker = worker_threads.Worker`; keep ours.
    set: () => {},
  });
  const cpus = os.cpus;
  os.cpus = () => {
    const real = cpus();
    const fake: os.CpuInfo[] = [];
    for (let i = 0; i < 2 * threads; i++) fake.push(real[i % real.length] as os.CpuInfo);
    return fake;
  };
  try {
    return await init();
  } finally {
    os.cpus = cpus;
    if (previousWorker) Object.defineProperty(globalThis, "Worker", previousWorker);
    else Reflect.deleteProperty(globalThis, "Worker");
  }
}
