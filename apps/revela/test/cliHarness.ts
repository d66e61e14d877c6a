import { Writable } from "node:stream";
import type { CliContext, OutputStream } from "../src/commands/cliContext.js";
import type { AppConfig, PipelineIO } from "../src/commands/pipelineApi.js";
import type { PipelineResult } from "../src/pipeline/pipelineResult.js";
import { runCli } from "../src/runCli.js";

function collector(): { stream: OutputStream; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The configs the pipeline was called with (empty when it was not called). */
  calls: { config: AppConfig; io: PipelineIO }[];
}

/**
 * Runs the CLI in-process with captured streams and a stand-in pipeline that returns `result`
 * (or runs `pipeline`), so that no test trains a model.
 */
export async function runRevela(
  argv: string[],
  options: {
    result?: PipelineResult;
    pipeline?: (config: AppConfig, io: PipelineIO, interrupt: AbortController) => Promise<PipelineResult>;
  } = {},
): Promise<CliRun> {
  const stdout = collector();
  const stderr = collector();
  const interrupt = new AbortController();
  const calls: CliRun["calls"] = [];
  const ctx: CliContext = {
    stdout: stdout.stream,
    stderr: stderr.stream,
    signal: interrupt.signal,
    setGracefulStop: () => {},
    runPipeline: async (config, io) => {
      calls.push({ config, io });
      if (options.pipeline) return options.pipeline(config, io, interrupt);
      if (options.result) return options.result;
      throw new Error("test: the pipeline should not have been called");
    },
  };
  const code = await runCli(argv, ctx);
  return { code, stdout: stdout.text(), stderr: stderr.text(), calls };
}
