import { statSync } from "node:fs";
import type { BackendName } from "@revela/kernels";
import { ExactIndex } from "@revela/retriever";
import { type Command, Option } from "commander";
import { addBackendOptions, startBackend } from "./backendOptions.js";
import type { CliContext } from "./cliContext.js";
import { dbOption, jsonObject, openCollection, searchModeOptions } from "./databaseTarget.js";
import { nonEmptyText, positiveInteger } from "./flagParsers.js";
import { applyOptionsConfigFile } from "./optionsConfigFile.js";
import { checkRetrieverDir, openRetriever } from "./retrieverDir.js";

interface SearchOptions {
  retriever: string;
  index?: string;
  db?: string;
  collection?: string;
  exact?: boolean;
  efSearch?: number;
  hybrid?: boolean;
  filter?: Record<string, unknown>;
  query?: string;
  k: number;
  json?: boolean;
  backend?: BackendName;
  threads?: number;
}

async function search(command: Command, ctx: CliContext): Promise<void> {
  await applyOptionsConfigFile(command);
  const o = command.opts<SearchOptions>();
  const positional = command.args[0];
  if (positional !== undefined && o.query !== undefined)
    throw new Error("give the query once: as an argument or --query");
  o.query ??= positional;
  if ((o.index === undefined) === (o.db === undefined)) {
    throw new Error(
      "give --index <file> (an embeddings file) or --db <dir|url> (a database from revela index), not both",
    );
  }
  for (const key of ["retriever", "query"] as const) {
    if (o[key] === undefined) throw new Error(`--${key} is required (see revela search --help)`);
  }
  if (o.db !== undefined) return searchDatabase(o as SearchOptions & { query: string }, ctx);
  if (o.exact || o.efSearch !== undefined || o.hybrid || o.filter !== undefined || o.collection !== undefined) {
    throw new Error("--collection, --exact, --ef-search, --hybrid and --filter apply to --db searches only");
  }
  const indexFile = o.index as string;
  const queryText = o.query as string;
  const stat = statSync(indexFile, { throwIfNoEntry: false });
  if (!stat) throw new Error(`--index ${indexFile}: no such file`);
  if (!stat.isFile()) throw new Error(`--index ${indexFile}: not a file (give an embeddings file from revela encode)`);
  checkRetrieverDir(o.retriever);
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  await startBackend(o, log);
  // Streamed from disk at search time: memory stays bounded for indexes larger than RAM.
  const index = await ExactIndex.open(indexFile);
  const retriever = await openRetriever(o.retriever);
  try {
    if (index.dimensions !== retriever.dimensions) {
      throw new Error(
        `--index ${indexFile} holds ${index.dimensions}-dimensional vectors but the retriever ${o.retriever} makes ${retriever.dimensions}-dimensional ones (encode the index with the same retriever)`,
      );
    }
    const query = await retriever.encodeQueries([queryText]);
    const { ids, scores } = await index.search(query, o.k);
    const hits = (ids[0] ?? []).map((id, i) => ({ rank: i + 1, id, score: scores[0]?.[i] as number }));
    printHits(ctx, queryText, hits, o.json);
  } finally {
    retriever.dispose();
    await index.close();
  }
}

function printHits(
  ctx: CliContext,
  query: string,
  hits: { rank: number; id: string; score: number; text?: string }[],
  json: boolean | undefined,
): void {
  if (json) ctx.stdout.write(`${JSON.stringify({ query, hits })}\n`);
  else {
    const width = String(hits.length).length;
    for (const h of hits) {
      const text = h.text === undefined ? "" : `  ${h.text.length > 80 ? `${h.text.slice(0, 77)}...` : h.text}`;
      ctx.stdout.write(`${String(h.rank).padStart(width)}  ${h.score.toFixed(4)}  ${h.id}${text}\n`);
    }
  }
}

/** The same search through a collection that revela index filled. */
async function searchDatabase(o: SearchOptions & { query: string }, ctx: CliContext): Promise<void> {
  checkRetrieverDir(o.retriever);
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  await startBackend(o, log);
  const retriever = await openRetriever(o.retriever);
  try {
    const { store, collection } = await openCollection(o.db as string, o.collection, retriever, o.retriever, {
      create: false,
    });
    try {
      const query = (await retriever.encodeQueries([o.query])).data;
      const options = {
        k: o.k,
        withText: true,
        ...(o.exact ? { exact: true } : {}),
        ...(o.efSearch !== undefined ? { efSearch: o.efSearch } : {}),
        ...(o.filter !== undefined ? { filter: o.filter } : {}),
      };
      const found = o.hybrid
        ? await collection.hybridSearch(o.query, query, options)
        : await collection.search(query, options);
      printHits(
        ctx,
        o.query,
        found.map((h, i) => ({
          rank: i + 1,
          id: h.id,
          score: h.score,
          ...(h.text !== undefined ? { text: h.text } : {}),
        })),
        o.json,
      );
    } finally {
      await store.close();
    }
  } finally {
    retriever.dispose();
  }
}

/** `revela search`: the top k ids of an embeddings file for one query text. */
export function registerSearchCommand(program: Command, ctx: CliContext): Command {
  const command = program
    .command("search")
    .description(
      "search an embeddings file (from revela encode) or a database collection (from revela index) with a query, printing rank, score and id",
    )
    .argument("[query]", "the query text (or --query)")
    .addOption(
      new Option("--retriever <dir>", "saved retriever folder (the one that encoded the index)").argParser(
        nonEmptyText,
      ),
    )
    .addOption(new Option("--index <file>", "embeddings file written by revela encode").argParser(nonEmptyText))
    .addOption(dbOption().argParser(nonEmptyText))
    .addOption(
      new Option("--collection <name>", "collection in --db (default: its only collection)").argParser(nonEmptyText),
    )
    .addOption(
      new Option("--filter <json>", "only documents whose metadata contains this JSON object").argParser(jsonObject),
    )
    .addOption(new Option("--query <text>", "the query text").argParser(nonEmptyText))
    .addOption(new Option("-k, --k <n>", "hits to print").default(10).argParser(positiveInteger))
    .addOption(new Option("--json", "print the hits as one JSON line"));
  const [exact, efSearch, hybrid] = searchModeOptions() as [Option, Option, Option];
  command.addOption(exact).addOption(efSearch.argParser(positiveInteger)).addOption(hybrid);
  addBackendOptions(command)
    .addOption(new Option("--config <file.json>", "JSON object of these options (flags override it)"))
    .action(async () => search(command, ctx));
  return command;
}
