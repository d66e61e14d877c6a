import { BACKEND_NAMES, type BackendName, formatBackendReport, initBackend } from "@revela/kernels";
import { type Command, Option } from "commander";
import { threadCount } from "./flagParsers.js";

/** --backend and --threads, for the commands that run a model. */
export function addBackendOptions(command: Command): Command {
  return command
    .addOption(new Option("--backend <name>", "compute backend (default: the best available)").choices(BACKEND_NAMES))
    .addOption(new Option("--threads <n>", "wasm threads, 1-8 (default: one per core)").argParser(threadCount));
}

/** Starts the backend the flags ask for and says which one runs (on stderr, with the results' context). */
export async function startBackend(
  options: { backend?: BackendName; threads?: number },
  log: (line: string) => void,
): Promise<void> {
  const report = await initBackend({
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  log(formatBackendReport(report));
}
