import { statSync } from "node:fs";
import path from "node:path";
import type { BackendName } from "@revela/kernels";
import { EmbeddingsWriter } from "@revela/retriever";
import { type Command, Option } from "commander";
import { readTextsFile } from "../data/readTextsFile.js";
import { addBackendOptions, startBackend } from "./backendOptions.js";
import type { CliContext } from "./cliContext.js";
import { nonEmptyText, positiveInteger } from "./flagParsers.js";
import { applyOptionsConfigFile } from "./optionsConfigFile.js";
import { prepareOutputDir } from "./outputDir.js";
import { ProgressLine } from "./progressLine.js";
import { checkRetrieverDir, openRetriever } from "./retrieverDir.js";

interface EncodeOptions {
  retriever: string;
  input: string;
  output: string;
  kind: "passage" | "query";
  batchSize: number;
  backend?: BackendName;
  threads?: number;
}

/** Texts encoded per block: the embeddings of one block are in memory at a time, whatever the input size. */
const BLOCK = 4096;

async function encode(command: Command, ctx: CliContext): Promise<void> {
  await applyOptionsConfigFile(command);
  const o = command.opts<EncodeOptions>();
  for (const key of ["retriever", "input", "output"] as const) {
    if (o[key] === undefined) throw new Error(`--${key} is required (see revela encode --help)`);
  }
  checkRetrieverDir(o.retriever);
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  const texts = await readTextsFile(o.input);
  if (statSync(o.output, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`--output ${o.output}: is a directory; give a file name for the embeddings`);
  }
  // The output's folder is made now rather than after encoding.
  prepareOutputDir(path.dirname(path.resolve(o.output)), "--output");
  await startBackend(o, log);
  const retriever = await openRetriever(o.retriever);
  const writer = await EmbeddingsWriter.create(o.output, retriever.dimensions);
  const progress = new ProgressLine(ctx.stderr, `encode ${o.kind}s`);
  try {
    for (let start = 0; start < texts.length; start += BLOCK) {
      const block = texts.slice(start, start + BLOCK);
      const encodeOptions = {
        batchSize: o.batchSize,
        onProgress: (done: number) => progress.update(start + done, texts.length),
      };
      const matrix =
        o.kind === "query"
          ? await retriever.encodeQueries(
              block.map((t) => t.text),
              encodeOptions,
            )
          : await retriever.encodePassages(
              block.map((t) => t.text),
              encodeOptions,
            );
      await writer.append(
        block.map((t) => t.id),
        matrix,
      );
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    progress.stop();
    retriever.dispose();
  }
  log(`wrote ${texts.length} ${o.kind} embeddings (${retriever.dimensions} dimensions) with their ids to ${o.output}`);
}

/** `revela encode`: texts → an embeddings file (vectors + ids) that `revela search --index` reads. */
export function registerEncodeCommand(program: Command, ctx: CliContext): Command {
  const command = program
    .command("encode")
    .description("embed texts with a saved retriever into an embeddings file (vectors and ids) for revela search")
    .addOption(
      new Option("--retriever <dir>", "saved retriever folder (from revela train --out)").argParser(nonEmptyText),
    )
    .addOption(
      new Option(
        "--input <file>",
        ".jsonl (objects with _id, text, optional title) or .txt (one text a line, id = line number)",
      ).argParser(nonEmptyText),
    )
    .addOption(new Option("--output <file>", "embeddings file to write").argParser(nonEmptyText))
    .addOption(
      new Option("--kind <kind>", "encode as passages or as queries").choices(["passage", "query"]).default("passage"),
    )
    .addOption(new Option("--batch-size <n>", "texts per encoder batch").default(32).argParser(positiveInteger));
  addBackendOptions(command)
    .addOption(new Option("--config <file.json>", "JSON object of these options (flags override it)"))
    .action(async () => encode(command, ctx));
  return command;
}
