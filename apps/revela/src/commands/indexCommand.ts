import { statSync } from "node:fs";
import path from "node:path";
import type { BackendName } from "@revela/kernels";
import { type Command, Option } from "commander";
import { readTextsFile } from "../data/readTextsFile.js";
import { addBackendOptions, startBackend } from "./backendOptions.js";
import type { CliContext } from "./cliContext.js";
import { collectionOption, dbOption, defaultCollectionName, openCollection } from "./databaseTarget.js";
import { integerAtLeast, nonEmptyText, positiveInteger } from "./flagParsers.js";
import { applyOptionsConfigFile } from "./optionsConfigFile.js";
import { ProgressLine } from "./progressLine.js";
import { checkRetrieverDir, openRetriever } from "./retrieverDir.js";

interface IndexOptions {
  retriever?: string;
  data?: string;
  db?: string;
  collection?: string;
  batchSize: number;
  commitEvery: number;
  hnsw?: boolean;
  hnswM: number;
  hnswEfConstruction: number;
  json?: boolean;
  backend?: BackendName;
  threads?: number;
}

/** The corpus file of a BEIR folder, or the file itself. */
function corpusFile(data: string): string {
  const stat = statSync(data, { throwIfNoEntry: false });
  if (!stat) throw new Error(`--data ${data}: no such file or folder`);
  return stat.isDirectory() ? path.join(data, "corpus.jsonl") : data;
}

async function index(command: Command, ctx: CliContext): Promise<void> {
  await applyOptionsConfigFile(command);
  const o = command.opts<IndexOptions>();
  for (const key of ["retriever", "data", "db"] as const) {
    if (o[key] === undefined) throw new Error(`--${key} is required (see revela index --help)`);
  }
  const retrieverDir = o.retriever as string;
  checkRetrieverDir(retrieverDir);
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  const data = o.data as string;
  const texts = await readTextsFile(corpusFile(data), "--data");
  const documents = texts.filter((t) => t.text.trim() !== "");
  if (documents.length < texts.length)
    log(`warning: ${texts.length - documents.length} documents without text are not indexed`);
  const name = o.collection ?? defaultCollectionName(statSync(data).isDirectory() ? data : path.dirname(data));
  await startBackend(o, log);
  const retriever = await openRetriever(retrieverDir);
  let store: Awaited<ReturnType<typeof openCollection>>["store"] | undefined;
  try {
    const opened = await openCollection(o.db as string, name, retriever, retrieverDir, {
      create: true,
      metric: retriever.options.normalize ? "inner_product" : "cosine",
    });
    store = opened.store;
    const { collection } = opened;
    log(
      `collection ${name} in ${store.location} (${store.backend}, ${collection.metric}, retriever ${collection.retriever.id} ${collection.retriever.hash.slice(0, 12)})`,
    );
    const progress = new ProgressLine(ctx.stderr, "index");
    let added = 0;
    let skipped = 0;
    // One transaction per block: an interrupted run keeps every finished block, and the next run
    // skips what the same retriever already indexed.
    for (let start = 0; start < documents.length; start += o.commitEvery) {
      if (ctx.signal.aborted) break;
      const block = documents.slice(start, start + o.commitEvery);
      const present = await collection.existingIds(block.map((d) => d.id));
      const missing = block.filter((d) => !present.has(d.id));
      skipped += block.length - missing.length;
      if (missing.length > 0) {
        const matrix = await retriever.encodePassages(
          missing.map((d) => d.text),
          {
            batchSize: o.batchSize,
            onProgress: (done: number) =>
              progress.update(start + (block.length - missing.length) + done, documents.length),
          },
        );
        const d = matrix.shape[1];
        await collection.upsert(
          missing.map((doc, i) => ({ id: doc.id, text: doc.text, vector: matrix.data.subarray(i * d, (i + 1) * d) })),
        );
        added += missing.length;
      }
      progress.update(start + block.length, documents.length);
    }
    progress.stop();
    if (o.hnsw && !ctx.signal.aborted) {
      log(`building the HNSW index (m ${o.hnswM}, ef_construction ${o.hnswEfConstruction})`);
      await collection.createHnswIndex({ m: o.hnswM, efConstruction: o.hnswEfConstruction });
    }
    const summary = {
      db: store.location,
      backend: store.backend,
      collection: name,
      added,
      skipped,
      documents: await collection.count(),
      hnsw: await collection.hnswIndex(),
      complete: !ctx.signal.aborted,
    };
    ctx.stdout.write(
      o.json
        ? `${JSON.stringify(summary)}\n`
        : `${name}: ${added} documents added, ${skipped} already indexed, ${summary.documents} in ${summary.db}${summary.hnsw ? " (HNSW index)" : ""}${summary.complete ? "" : " — interrupted; run again to continue"}\n`,
    );
  } finally {
    retriever.dispose();
    await store?.close();
  }
}

/** `revela index`: a corpus encoded by a saved retriever into a PostgreSQL + pgvector collection. */
export function registerIndexCommand(program: Command, ctx: CliContext): Command {
  const command = program
    .command("index")
    .description(
      "encode a corpus with a saved retriever into a PostgreSQL + pgvector collection (embedded PGlite folder or a server); resumable",
    )
    .addOption(new Option("--retriever <dir>", "saved retriever folder").argParser(nonEmptyText))
    .addOption(
      new Option("--data <dir|file>", "BEIR dataset folder (its corpus.jsonl) or a .jsonl/.txt file").argParser(
        nonEmptyText,
      ),
    )
    .addOption(dbOption().argParser(nonEmptyText))
    .addOption(collectionOption().argParser(nonEmptyText))
    .addOption(new Option("--batch-size <n>", "texts per encoder batch").default(32).argParser(positiveInteger))
    .addOption(
      new Option("--commit-every <n>", "documents per transaction (what an interruption can lose)")
        .default(512)
        .argParser(positiveInteger),
    )
    .addOption(new Option("--hnsw", "build an HNSW index after indexing (searches then use it unless --exact)"))
    .addOption(new Option("--hnsw-m <n>", "HNSW neighbours per node").default(16).argParser(integerAtLeast(2)))
    .addOption(
      new Option("--hnsw-ef-construction <n>", "HNSW build candidate list").default(64).argParser(integerAtLeast(4)),
    )
    .addOption(new Option("--json", "print the summary as one JSON line"));
  addBackendOptions(command)
    .addOption(new Option("--config <file.json>", "JSON object of these options (flags override it)"))
    .action(async () => index(command, ctx));
  return command;
}
