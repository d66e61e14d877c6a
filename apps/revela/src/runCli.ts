import { Command, CommanderError } from "commander";
import { registerBenchCommand } from "./commands/benchCommand.js";
import type { CliContext } from "./commands/cliContext.js";
import { registerDemoCommand } from "./commands/demoCommand.js";
import { registerEncodeCommand } from "./commands/encodeCommand.js";
import { registerEvalCommand } from "./commands/evalCommand.js";
import { registerIndexCommand } from "./commands/indexCommand.js";
import { registerSearchCommand } from "./commands/searchCommand.js";
import { registerTrainCommand } from "./commands/trainCommand.js";

/** Exit codes: success, a user error (bad flag, path, config or data), Ctrl-C (128 + SIGINT). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_INTERRUPTED = 130;

const COMMANDS = ["train", "eval", "encode", "index", "search", "bench", "demo", "help"];

/** The `revela` program with its commands, writing through `ctx` and throwing instead of exiting. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command("revela")
    .description(
      "Revela: train a dense retriever without labels (in-batch attention in a language model), then evaluate and report.\nWith no command, runs `revela train` with the default config on the embedded SciFact.",
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void ctx.stdout.write(text),
      writeErr: (text) => void ctx.stderr.write(text),
      outputError: (text, write) => write(`revela: ${text.replace(/^error: /, "")}`),
    })
    .addHelpText(
      "after",
      "\nExit codes: 0 done, 1 error (one line on stderr; REVELA_DEBUG=1 adds the stack), 130 interrupted (Ctrl-C).",
    );
  registerTrainCommand(program, ctx);
  registerEvalCommand(program, ctx);
  registerEncodeCommand(program, ctx);
  registerIndexCommand(program, ctx);
  registerSearchCommand(program, ctx);
  registerBenchCommand(program, ctx);
  registerDemoCommand(program, ctx);
  return program;
}

/** An error as one line: package messages sometimes wrap, and the CLI promises one line. */
const oneLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ").trim();

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit code. Errors become one
 * line on stderr; nothing here calls process.exit, so tests run commands in-process.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const first = argv[0];
  // Without this, a mistyped command ("revela evl") would reach the default command as a stray
  // argument and fail with a puzzling "too many arguments for 'train'".
  if (first !== undefined && !first.startsWith("-") && !COMMANDS.includes(first)) {
    ctx.stderr.write(
      `revela: unknown command "${first}" (commands: ${COMMANDS.slice(0, -1).join(", ")}; see revela --help)\n`,
    );
    return EXIT_ERROR;
  }
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: "user" });
    return ctx.signal.aborted ? EXIT_INTERRUPTED : EXIT_OK;
  } catch (error) {
    // Commander has already printed its message (or the help, whose exit code is 0).
    if (error instanceof CommanderError) return error.exitCode;
    if (ctx.signal.aborted) {
      ctx.stderr.write(`revela: interrupted (${oneLine(error)})\n`);
      return EXIT_INTERRUPTED;
    }
    ctx.stderr.write(`revela: ${oneLine(error)}\n`);
    if (process.env.REVELA_DEBUG && error instanceof Error && error.stack) ctx.stderr.write(`${error.stack}\n`);
    return EXIT_ERROR;
  }
}
