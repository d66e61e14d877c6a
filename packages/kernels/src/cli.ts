#!/usr/bin/env node
import { BACKEND_NAMES, type BackendName, formatBackendReport, initBackend } from "./index.js";

/** `revela-backend [--backend NAME] [--threads N] [--json]`: initialise and report the backend. */
async function main(argv: string[]): Promise<void> {
  let backend: BackendName | undefined;
  let threads: number | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--json") json = true;
    else if (arg === "--backend") {
      const value = argv[++i];
      if (!value || !(BACKEND_NAMES as readonly string[]).includes(value)) {
        throw new Error(`--backend must be one of ${BACKEND_NAMES.join(", ")}, got ${value ?? "nothing"}`);
      }
      backend = value as BackendName;
    } else if (arg === "--threads") threads = Number(argv[++i]);
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write(
        "usage: revela-backend [--backend tensorflow-gpu|tensorflow|wasm|cpu] [--threads N] [--json]\n",
      );
      return;
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  const report = await initBackend({ ...(backend ? { backend } : {}), ...(threads !== undefined ? { threads } : {}) });
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${formatBackendReport(report)}\n`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`revela-backend: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
