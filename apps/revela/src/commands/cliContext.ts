import type { PipelineResult } from "../pipeline/pipelineResult.js";
import type { AppConfig, PipelineIO } from "./pipelineApi.js";

export type OutputStream = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * What a command may touch of the outside world. The entry point (cli.ts) passes the process's
 * streams and signal handling; tests pass buffers, an AbortController and a stand-in pipeline, so
 * every command runs in-process without training a model.
 */
export interface CliContext {
  /** Results (tables, search hits): what a user pipes onward. */
  stdout: OutputStream;
  /** Status lines, warnings and progress bars. */
  stderr: OutputStream;
  /** Aborted on the first Ctrl-C while a command that stops cleanly is running. */
  signal: AbortSignal;
  /**
   * A command whose work can stop cleanly (training: finish the step, then evaluate what there is)
   * calls this with true while that work runs; otherwise Ctrl-C exits at once with code 130.
   */
  setGracefulStop(on: boolean): void;
  /** The training/evaluation pipeline (replaceable in tests). */
  runPipeline(config: AppConfig, io: PipelineIO): Promise<PipelineResult>;
}
