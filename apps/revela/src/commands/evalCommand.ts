import path from "node:path";
import {
  Bm25Index,
  denseRetrieve,
  type Encoder,
  evaluateRun,
  loadBeirDataset,
  type Run,
  writeTrecRun,
} from "@revela/eval";
import type { BackendName } from "@revela/kernels";
import type { EmbeddingMatrix } from "@revela/retriever";
import { type Command, Option } from "commander";
import { checkDatasetDir } from "../data/checkDatasetDir.js";
import { requireCorpusText } from "../data/corpusText.js";
import { defaultDatasetDir } from "../data/defaultDataset.js";
import { documentText } from "../data/documentText.js";
import { requireJudgedQueries } from "../data/judgedQueries.js";
import type { ResultRow } from "../pipeline/pipelineResult.js";
import { formatResultsTable } from "../report/resultsTable.js";
import { addBackendOptions, startBackend } from "./backendOptions.js";
import type { CliContext } from "./cliContext.js";
import {
  collectionOption,
  dbOption,
  defaultCollectionName,
  openCollection,
  searchModeOptions,
} from "./databaseTarget.js";
import { nonEmptyText, positiveInteger } from "./flagParsers.js";
import { applyOptionsConfigFile } from "./optionsConfigFile.js";
import { ProgressLine } from "./progressLine.js";
import { checkRetrieverDir, openRetriever } from "./retrieverDir.js";

interface EvalOptions {
  retriever?: string;
  bm25?: boolean;
  data?: string;
  split: string;
  batchSize: number;
  db?: string;
  collection?: string;
  exact?: boolean;
  efSearch?: number;
  hybrid?: boolean;
  runFile?: string;
  json?: boolean;
  backend?: BackendName;
  threads?: number;
}

/** BEIR's deepest cutoff: runs keep 1000 documents per query, enough for every measure and for fusion later. */
const RUN_DEPTH = 1000;

/** An EmbeddingMatrix as the one-row-per-input arrays @revela/eval's Encoder returns. */
const rowsOf = (m: EmbeddingMatrix): Float32Array[] =>
  Array.from({ length: m.shape[0] }, (_, i) => m.data.subarray(i * m.shape[1], (i + 1) * m.shape[1]));

async function evaluate(command: Command, ctx: CliContext): Promise<void> {
  await applyOptionsConfigFile(command);
  const o = command.opts<EvalOptions>();
  if ((o.retriever === undefined) === (o.bm25 !== true)) {
    throw new Error(
      o.bm25
        ? "give either --retriever <dir> or --bm25, not both"
        : "give --retriever <dir> (a saved retriever) or --bm25",
    );
  }
  if (o.retriever !== undefined) checkRetrieverDir(o.retriever);
  if (o.db === undefined && (o.exact || o.efSearch !== undefined || o.hybrid || o.collection !== undefined)) {
    throw new Error("--collection, --exact, --ef-search and --hybrid apply with --db only");
  }
  if (o.db !== undefined && o.bm25)
    throw new Error("--db evaluates a retriever's collection: give --retriever, not --bm25");
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  const data = o.data ?? defaultDatasetDir();
  checkDatasetDir(data, o.data !== undefined ? "--data" : "embedded dataset", { split: o.split });
  const dataset = await loadBeirDataset(data, { split: o.split });
  for (const warning of dataset.warnings) log(`warning: ${warning}`);
  requireJudgedQueries(dataset, data, o.split);
  const emptyDocuments = requireCorpusText(dataset, data);
  if (emptyDocuments) log(`warning: ${emptyDocuments}`);
  log(
    `${path.basename(path.resolve(data))}, split ${o.split}: ${dataset.queries.size} queries, ${dataset.corpus.size} documents`,
  );

  let run: Run;
  let system: string;
  if (o.bm25) {
    system = "BM25";
    const indexing = new ProgressLine(ctx.stderr, "BM25 index");
    const index = Bm25Index.build(dataset.corpus, { onProgress: ({ done, total }) => indexing.update(done, total) });
    indexing.stop();
    const searching = new ProgressLine(ctx.stderr, "BM25 search");
    run = index.retrieve(dataset.queries, {
      k: RUN_DEPTH,
      onProgress: ({ done, total }) => searching.update(done, total),
    });
    searching.stop();
  } else if (o.db !== undefined) {
    const dir = o.retriever as string;
    await startBackend(o, log);
    const retriever = await openRetriever(dir);
    try {
      const opened = await openCollection(o.db, o.collection ?? defaultCollectionName(data), retriever, dir, {
        create: false,
      });
      try {
        const { collection } = opened;
        const held = await collection.count();
        if (held !== dataset.corpus.size) {
          log(`warning: collection ${collection.name} holds ${held} documents, the dataset ${dataset.corpus.size}`);
        }
        const mode = o.hybrid
          ? "hybrid (RRF with ts_rank_cd)"
          : o.exact || !(await collection.hnswIndex())
            ? "exact"
            : "HNSW";
        system = `Retriever (${path.basename(path.resolve(dir))}) via ${opened.store.backend}, ${mode}`;
        const queryIds = [...dataset.queries.keys()];
        const encoding = new ProgressLine(ctx.stderr, "encode queries");
        const vectors = await retriever.encodeQueries(
          queryIds.map((id) => dataset.queries.get(id) as string),
          { batchSize: o.batchSize, onProgress: (done: number) => encoding.update(done, queryIds.length) },
        );
        encoding.stop();
        const d = vectors.shape[1];
        const searching = new ProgressLine(ctx.stderr, `search ${collection.name}`);
        const options = {
          k: RUN_DEPTH,
          ...(o.exact ? { exact: true } : {}),
          ...(o.efSearch !== undefined ? { efSearch: o.efSearch } : {}),
        };
        run = new Map();
        for (const [q, id] of queryIds.entries()) {
          if (ctx.signal.aborted) throw new Error("interrupted while searching");
          const vector = vectors.data.subarray(q * d, (q + 1) * d);
          const hits = o.hybrid
            ? await collection.hybridSearch(dataset.queries.get(id) as string, vector, options)
            : await collection.search(vector, options);
          run.set(
            id,
            hits.map((h) => ({ docId: h.id, score: h.score })),
          );
          searching.update(q + 1, queryIds.length);
        }
        searching.stop();
      } finally {
        await opened.store.close();
      }
    } finally {
      retriever.dispose();
    }
  } else {
    const dir = o.retriever as string;
    await startBackend(o, log);
    const retriever = await openRetriever(dir);
    system = `Retriever (${path.basename(path.resolve(dir))})`;
    try {
      const encoder: Encoder = {
        encodeQueries: async (texts) => rowsOf(await retriever.encodeQueries(texts, { batchSize: o.batchSize })),
        encodeDocuments: async (docs) =>
          rowsOf(await retriever.encodePassages(docs.map(documentText), { batchSize: o.batchSize })),
      };
      // One progress line per phase (queries are encoded first, then documents block by block).
      let line: ProgressLine | undefined;
      let phase: string | undefined;
      run = await denseRetrieve(encoder, dataset.corpus, dataset.queries, {
        k: RUN_DEPTH,
        onProgress: (p) => {
          if (p.phase !== phase) {
            line?.stop();
            line = new ProgressLine(ctx.stderr, `encode ${p.phase}`);
            phase = p.phase;
          }
          line?.update(p.done, p.total);
        },
      });
      line?.stop();
    } finally {
      retriever.dispose();
    }
  }

  const result = evaluateRun(run, dataset.qrels, { k: [10, 100], measures: ["ndcg", "recall", "mrr"] });
  const row: ResultRow = {
    system,
    ndcg10: result.mean["NDCG@10"] as number,
    recall100: result.mean["Recall@100"] as number,
    mrr10: result.mean["MRR@10"] as number,
  };
  if (o.runFile !== undefined) {
    await writeTrecRun(o.runFile, run, o.bm25 ? "bm25" : "revela");
    log(`run: ${o.runFile}`);
  }
  ctx.stdout.write(
    o.json
      ? `${JSON.stringify({ ...row, dataset: data, split: o.split, queries: result.numQueries, documents: dataset.corpus.size })}\n`
      : `${formatResultsTable([row])}\n`,
  );
}

/** `revela eval`: one retriever (or BM25) on one BEIR dataset. */
export function registerEvalCommand(program: Command, ctx: CliContext): Command {
  const command = program
    .command("eval")
    .description(
      "evaluate a saved retriever (in process, or through a database collection with --db), or BM25, on a BEIR dataset: nDCG@10, Recall@100, MRR@10",
    )
    .addOption(
      new Option("--retriever <dir>", "saved retriever folder (from revela train --out)").argParser(nonEmptyText),
    )
    .addOption(new Option("--bm25", "evaluate BM25 (k1 0.9, b 0.4, title + text) instead of a retriever"))
    .addOption(
      new Option("--data <beirDir>", "BEIR dataset folder (default: the embedded SciFact)").argParser(nonEmptyText),
    )
    .addOption(new Option("--split <name>", "qrels split: qrels/<name>.tsv").default("test").argParser(nonEmptyText))
    .addOption(new Option("--batch-size <n>", "texts per encoder batch").default(32).argParser(positiveInteger))
    .addOption(dbOption().argParser(nonEmptyText))
    .addOption(collectionOption().argParser(nonEmptyText))
    .addOption(new Option("--run-file <file>", "also write the ranking as a TREC run file"))
    .addOption(new Option("--json", "print the result as one JSON line instead of a table"));
  const [exact, efSearch, hybrid] = searchModeOptions() as [Option, Option, Option];
  command.addOption(exact).addOption(efSearch.argParser(positiveInteger)).addOption(hybrid);
  addBackendOptions(command)
    .addOption(new Option("--config <file.json>", "JSON object of these options (flags override it)"))
    .action(async () => evaluate(command, ctx));
  return command;
}
