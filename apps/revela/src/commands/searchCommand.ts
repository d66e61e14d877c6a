import { statSync } from "node:fs";
import type { BackendName } from "@revela/kernels";
import { ExactIndex } from "@revela/retriever";
import { type Command, Option } from "commander";
import { addBackendOptions, startBackend } from "./backendOptions.js";
import type { CliContext } from "./cliContext.js";
import { nonEmptyText, positiveInteger } from "./flagParsers.js";
import { applyOptionsConfigFile } from "./optionsConfigFile.js";
import { checkRetrieverDir, openRetriever } from "./retrieverDir.js";

interface SearchOptions {
  retriever: string;
  index: string;
  query: string;
  k: number;
  json?: boolean;
  backend?: BackendName;
  threads?: number;
}

async function search(command: Command, ctx: CliContext): Promise<void> {
  await applyOptionsConfigFile(command);
  const o = command.opts<SearchOptions>();
  for (const key of ["retriever", "index", "query"] as const) {
    if (o[key] === undefined) throw new Error(`--${key} is required (see revela search --help)`);
  }
  const stat = statSync(o.index, { throwIfNoEntry: false });
  if (!stat) throw new Error(`--index ${o.index}: no such file`);
  if (!stat.isFile()) throw new Error(`--index ${o.index}: not a file (give an embeddings file from revela encode)`);
  checkRetrieverDir(o.retriever);
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  await startBackend(o, log);
  // Streamed from disk at search time: memory stays bounded for indexes larger than RAM.
  const index = await ExactIndex.open(o.index);
  const retriever = await openRetriever(o.retriever);
  try {
    if (index.dimensions !== retriever.dimensions) {
      throw new Error(
        `--index ${o.index} holds ${index.dimensions}-dimensional vectors but the retriever ${o.retriever} makes ${retriever.dimensions}-dimensional ones (encode the index with the same retriever)`,
      );
    }
    const query = await retriever.encodeQueries([o.query]);
    const { ids, scores } = await index.search(query, o.k);
    const hits = (ids[0] ?? []).map((id, i) => ({ rank: i + 1, id, score: scores[0]?.[i] as number }));
    if (o.json) ctx.stdout.write(`${JSON.stringify({ query: o.query, hits })}\n`);
    else {
      const width = String(hits.length).length;
      for (const h of hits) ctx.stdout.write(`${String(h.rank).padStart(width)}  ${h.score.toFixed(4)}  ${h.id}\n`);
    }
  } finally {
    retriever.dispose();
    await index.close();
  }
}

/** `revela search`: the top k ids of an embeddings file for one query text. */
export function registerSearchCommand(program: Command, ctx: CliContext): Command {
  const command = program
    .command("search")
    .description("search an embeddings file (from revela encode) with a query, printing rank, score and id")
    .addOption(
      new Option("--retriever <dir>", "saved retriever folder (the one that encoded the index)").argParser(
        nonEmptyText,
      ),
    )
    .addOption(new Option("--index <file>", "embeddings file written by revela encode").argParser(nonEmptyText))
    .addOption(new Option("--query <text>", "the query text").argParser(nonEmptyText))
    .addOption(new Option("-k, --k <n>", "hits to print").default(10).argParser(positiveInteger))
    .addOption(new Option("--json", "print the hits as one JSON line"));
  addBackendOptions(command)
    .addOption(new Option("--config <file.json>", "JSON object of these options (flags override it)"))
    .action(async () => search(command, ctx));
  return command;
}
