import { runPipeline } from "./commands/pipelineApi.js";
import { EXIT_INTERRUPTED, runCli } from "./runCli.js";

/**
 * The `revela` executable: the process's streams, Ctrl-C and exit code around runCli.
 *
 * Ctrl-C during training asks the pipeline to stop after the current step (it still evaluates and
 * writes the report, then exits 130); a second Ctrl-C, or one during any other command, exits 130
 * at once — there is nothing worth saving half-way through encoding or searching.
 */
const interrupt = new AbortController();
let graceful = false;

process.on("SIGINT", () => {
  if (graceful && !interrupt.signal.aborted) {
    interrupt.abort();
    process.stderr.write("\nrevela: interrupted — stopping after the current step (Ctrl-C again to quit now)\n");
    return;
  }
  process.stderr.write("\nrevela: interrupted\n");
  process.exit(EXIT_INTERRUPTED);
});

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: interrupt.signal,
  setGracefulStop: (on) => {
    graceful = on;
  },
  runPipeline,
});
// Exit explicitly: tfjs-backend-wasm's worker threads would otherwise keep the process alive.
process.exit(code);
