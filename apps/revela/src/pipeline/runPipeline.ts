import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BeirDataset, Bm25Index, loadBeirDataset, type Run, reciprocalRankFusion } from "@revela/eval";
import { type BackendName, initBackend } from "@revela/kernels";
import type { CausalLM } from "@revela/language-model";
import { DenseEncoder, Retriever, saveRetriever } from "@revela/retriever";
import {
  type Batch,
  type BatchTokenizers,
  Bm25NeighbourBatcher,
  type Chunk,
  ConsecutiveBatcher,
  ContrastiveTrainer,
  chunkDocument,
  InBatchBm25,
  LanguageModelTrainer,
  LrSchedule,
  type ReadingGain,
  RevelaTrainer,
  type RevelaTrainerOptions,
  readingGain,
  runTraining,
  type Trainable,
} from "@revela/trainer";
import * as tf from "@tensorflow/tfjs";
import { requireCorpusText } from "../data/corpusText.js";
import { documentText } from "../data/documentText.js";
import { requireJudgedQueries } from "../data/judgedQueries.js";
import type { AppConfig } from "./appConfig.js";
import { denseRun, resultRow } from "./evaluateRetriever.js";
import { curveEvaluator, curveSlice } from "./learningCurve.js";
import { buildModels, copyWeights } from "./models.js";
import type { LearningCurve, LossCurve, PhaseTiming, PipelineResult, ResultRow } from "./pipelineResult.js";
import { revelaLossOptions } from "./revelaLossOptions.js";
import { RunState } from "./runState.js";

/** How the pipeline talks to its caller (the CLI): log lines and progress of long phases. */
export interface PipelineIO {
  log(line: string): void;
  /** Where the dataset lives when config.data is null (the app's embedded SciFact). */
  defaultDataDir: string;
  /** Progress of training runs (a bar on a TTY); default plain lines on stderr. */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Continue the run recorded in config.out (`revela train --resume`): skip finished phases, resume the interrupted one. */
  resume?: boolean;
}

class Clock {
  readonly timings: PhaseTiming[] = [];
  private readonly start = Date.now();
  elapsed(): number {
    return (Date.now() - this.start) / 1000;
  }
  async phase<T>(name: string, io: PipelineIO, f: () => Promise<T> | T): Promise<T> {
    const t0 = Date.now();
    io.log(`▸ ${name}…`);
    const out = await f();
    const seconds = (Date.now() - t0) / 1000;
    this.timings.push({ phase: name, seconds });
    io.log(`  ${name}: ${seconds.toFixed(1)} s`);
    return out;
  }
}

/** One figure per step from a JSON-lines log (metrics.jsonl, evals.jsonl) as a curve; `loss` holds the figure. */
function readSeries(file: string, name: string, key = "loss"): LossCurve {
  if (!fs.existsSync(file)) return { name, points: [] };
  const points = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((m) => Number.isFinite(m[key]))
    .map((m) => ({ step: m.step as number, loss: m[key] as number }));
  return { name, points };
}

/** The retrieval curves of Revela and the baseline, and W's diagnostics during Revela training. */
function learningCurves(revelaDir: string, contrastiveDir: string | null, warmupDir: string | null): LearningCurve[] {
  const evals = (key: string) => [
    readSeries(path.join(revelaDir, "evals.jsonl"), "Revela", key),
    ...(contrastiveDir ? [readSeries(path.join(contrastiveDir, "evals.jsonl"), "Contrastive baseline", key)] : []),
  ];
  const w = (key: string, name: string) => readSeries(path.join(revelaDir, "metrics.jsonl"), name, key);
  return [
    { title: "nDCG@10 on the curve slice", yLabel: "nDCG@10", curves: evals("ndcg10") },
    { title: "Recall@100 on the curve slice", yLabel: "Recall@100", curves: evals("recall100") },
    {
      title: "Document weights W during Revela training (per batch)",
      yLabel: "mass / weight",
      curves: [
        w("meanMaxWeight", "mean max Wᵢⱼ"),
        w("sameDocumentMass", "mass on same-document chunks"),
        w("bm25NeighbourMass", "mass on the BM25 neighbour"),
      ],
    },
    {
      title: "Does the LM read related chunks? (pass-2 loss, other documents − same document)",
      yLabel: "nats",
      curves: [
        ...(warmupDir ? [readSeries(path.join(warmupDir, "evals.jsonl"), "LM warm-up", "readingGain")] : []),
        readSeries(path.join(revelaDir, "evals.jsonl"), "Revela", "readingGain"),
      ],
    },
    {
      title: "Entropy of W's rows during Revela training",
      yLabel: "nats",
      curves: [w("weightEntropy", "entropy of W")],
    },
  ].filter((c) => c.curves.some((s) => s.points.length > 0));
}

/** Batches of the reading probe: 4 × 16 chunks, about 8 LM forwards of a batch per measurement. */
const READING_PROBE_BATCHES = 4;

/** One evaluate hook that reports the retriever's curve figures and the LM's reading gain. */
function withReading(
  retrieval: (step: number) => Promise<Record<string, number>>,
  reading: () => Promise<Record<string, number>>,
): (step: number) => Promise<Record<string, number>> {
  return async (step) => ({ ...(await retrieval(step)), ...(await reading()) });
}

/**
 * The default job: train Revela on the dataset's corpus only (never its queries or qrels), then
 * evaluate on the split's queries against BM25, the untrained retriever, a contrastive baseline
 * trained for the same number of steps from the same initial weights, and BM25 + Revela fusion.
 */
export async function runPipeline(config: AppConfig, io: PipelineIO): Promise<PipelineResult> {
  const clock = new Clock();
  const startedAt = new Date().toISOString();
  const backend = await initBackend({
    ...(config.backend ? { backend: config.backend as BackendName } : {}),
    ...(config.threads ? { threads: config.threads } : {}),
  });
  io.log(`backend: ${backend.backend}, ${backend.threads} thread(s)`);
  const runState = io.resume ? RunState.resume(config.out) : await RunState.start(config.out, config);
  const dataDir = config.data ?? io.defaultDataDir;
  const dataset: BeirDataset = await clock.phase("load dataset", io, () =>
    loadBeirDataset(dataDir, { split: config.split }),
  );
  for (const w of dataset.warnings) io.log(`  warning: ${w}`);
  requireJudgedQueries(dataset, dataDir, config.split);
  const emptyDocuments = requireCorpusText(dataset, dataDir);
  if (emptyDocuments) io.log(`  warning: ${emptyDocuments}`);
  const docs = [...dataset.corpus.values()];
  const corpusTexts = docs.map(documentText);
  const chunks: Chunk[] = docs.flatMap((d) =>
    chunkDocument({ id: d.id, text: documentText(d) }, { maxWords: config.train.chunkWords }),
  );
  io.log(
    `  ${docs.length} documents → ${chunks.length} chunks of ≤ ${config.train.chunkWords} words; ${dataset.queries.size} ${config.split} queries`,
  );

  // Learning curves: the same small slice of the evaluation data every `curveEvery` steps.
  const curves =
    config.eval.curveEvery > 0
      ? curveSlice(dataset, {
          queries: config.eval.curveQueries,
          documents: config.eval.curveDocuments,
          seed: config.seed,
        })
      : null;
  const rows: ResultRow[] = [];
  const bm25Run: Run = await clock.phase("BM25", io, () =>
    Bm25Index.build(dataset.corpus).retrieve(dataset.queries, { k: 100 }),
  );
  rows.push(resultRow("BM25", bm25Run, dataset));

  const models = await clock.phase("build models", io, () => buildModels(config, corpusTexts));
  io.log(`  ${models.description}`);
  const encoderOptions = { maxLength: config.eval.maxDocTokens, pooling: config.model.pooling };
  const retrieverModel = await models.makeRetrieverBackbone();
  const revelaRetriever = new Retriever({
    backbone: retrieverModel,
    tokenizer: models.tokenizer,
    options: encoderOptions,
    tokenizerDir: models.tokenizerDir,
    lora: models.loraConfig,
  });
  const retriever = revelaRetriever.encoder;

  const untrainedStart = clock.elapsed();
  const untrainedRun = await clock.phase("evaluate untrained retriever", io, () =>
    denseRun(retriever, dataset, config.eval.batchSize),
  );
  const evalSeconds = clock.elapsed() - untrainedStart;
  rows.push(resultRow("Untrained retriever", untrainedRun, dataset));

  const tokenizers: BatchTokenizers = {
    lmEncode: (t) => models.tokenizer.encode(t),
    lmEosTokenId: models.tokenizer.eosTokenId,
    lmPadTokenId: models.tokenizer.padTokenId,
    // Training views are as long as the recipe says, evaluation documents as eval.maxDocTokens.
    retrieverTokenize: (t, kind, o) =>
      retriever.tokenize(t, kind, { ...o, maxLength: config.train.maxRetrieverTokens }),
    retrieverPadTokenId: models.tokenizer.padTokenId,
  };
  const t = config.train;
  // Updates, not batches: with accumulation the step cap holds steps / accumulationSteps updates.
  const schedule = () =>
    new LrSchedule({
      kind: t.decay,
      warmup: t.warmup,
      warmupSteps: t.warmupSteps,
      ...(t.decay === "linear"
        ? { totalSteps: Math.max(t.warmupSteps + 1, Math.ceil(t.steps / t.accumulationSteps)) }
        : {}),
    });

  // A frozen LM is never trained, so it gets no warm-up either (train.freezeLm with a copying LM).
  const lmWarmup = !config.model.dir && !t.freezeLm && t.lmWarmupShare > 0;
  const initFromLm = lmWarmup && t.retrieverInit === "lm";
  // Budget. The contrastive baseline runs as many steps as Revela, each a single retriever pass
  // (measured on the default: 0.13 of a Revela step; 0.2 leaves room), the LM warm-up has no
  // baseline counterpart, and two more evaluations follow (three with a retriever initialised from
  // the LM). Training gets the rest.
  const remaining = config.minutes * 60 - clock.elapsed();
  const warmupShare = lmWarmup ? t.lmWarmupShare : 0;
  const baselineShare = config.baseline.contrastive ? 0.2 * (1 - warmupShare) : 0;
  const revelaMinutes = Math.max(
    0.5,
    (remaining - (2.2 + (initFromLm ? 1 : 0)) * evalSeconds - 20) / (1.05 + baselineShare) / 60,
  );
  io.log(`  training budget: ${revelaMinutes.toFixed(1)} min (whole run: ${config.minutes} min)`);

  const runsDir = path.join(config.out, "runs");
  const train = async (
    name: string,
    trainer: Trainable<Batch>,
    steps: number,
    minutes: number | undefined,
    extra: {
      batching?: AppConfig["train"]["batching"];
      evaluate?: (step: number) => Promise<Record<string, number>>;
    } = {},
  ) => {
    const batching = extra.batching ?? t.batching;
    const runDir = path.join(runsDir, name);
    // A phase that an earlier invocation finished (--resume) is restored from its checkpoint, not rerun.
    const restored = await runState.restoreFinished(name, runDir, trainer);
    if (restored) {
      io.log(`  ${name}: ${restored.message}`);
      return { result: restored, runDir, curve: readSeries(path.join(runDir, "metrics.jsonl"), name) };
    }
    const result = await runTraining({
      runDir,
      config: config as unknown as Parameters<typeof runTraining>[0]["config"],
      trainer,
      batches:
        batching === "bm25"
          ? new Bm25NeighbourBatcher(chunks, { batchSize: t.batchSize, seed: config.seed, otherDocuments: true })
          : new ConsecutiveBatcher(chunks, { batchSize: t.batchSize, seed: config.seed }),
      steps,
      ...(minutes !== undefined ? { maxMinutes: minutes } : {}),
      checkpointEvery: t.checkpointEvery,
      checkpointMinutes: t.checkpointMinutes,
      keepCheckpoints: 1,
      resume: runState.resuming ? "latest" : false,
      handleSigint: true,
      progress: io.progressStream ? { stream: io.progressStream } : {},
      ...(extra.evaluate ? { evaluate: extra.evaluate, evaluateEvery: config.eval.curveEvery } : {}),
    });
    io.log(`  ${name}: ${result.message}`);
    if (result.reason === "non-finite" || result.reason === "interrupted")
      throw new Error(`${name} training stopped: ${result.message}`);
    await runState.markFinished(name, result);
    return { result, runDir, curve: readSeries(path.join(runDir, "metrics.jsonl"), name) };
  };

  // The Revela step as configured; the in-batch LM warm-up reuses it with W fixed by document.
  const revelaOptions = (): RevelaTrainerOptions => ({
    retriever,
    retrieverModel,
    lm: models.lm,
    tokenizers,
    loss: revelaLossOptions(t),
    accumulationSteps: t.accumulationSteps,
    seed: config.seed,
    maxLmTokens: t.maxLmTokens,
    retrieverLr: t.retrieverLr,
    lmLr: t.lmLr,
    weightDecay: t.weightDecay,
    maxGradNorm: t.maxGradNorm,
    freezeLm: t.freezeLm,
    schedule: schedule(),
  });

  // The reading probe (learning curves): does the LM's loss depend on which chunks it reads? Fixed
  // batches of consecutive chunks, which hold same-document siblings; corpora of one-chunk documents
  // have none, and get no probe.
  const probeBatcher = new ConsecutiveBatcher(chunks, { batchSize: t.batchSize, seed: config.seed + 2 });
  const probeBatches = Array.from({ length: READING_PROBE_BATCHES }, () => probeBatcher.next());
  const probeHasSiblings = probeBatches.some((b) => new Set(b.chunks.map((c) => c.docId)).size < b.chunks.length);
  const lmReading = async (): Promise<Record<string, number>> => {
    if (!probeHasSiblings) return {};
    const r: ReadingGain = readingGain(models.lm, probeBatches, tokenizers, t.maxLmTokens, revelaOptions().loss);
    return { readingGain: r.gain, sameDocumentLoss: r.sameDocument, otherDocumentsLoss: r.otherDocuments };
  };
  if (curves && !probeHasSiblings) io.log("  reading probe: off (no batch holds two chunks of one document)");

  let lmWarmupCurve: LossCurve | null = null;
  let lmWarmupDir: string | null = null;
  let revelaBudget = revelaMinutes;
  if (lmWarmup) {
    const warmupMinutes = revelaMinutes * t.lmWarmupShare;
    revelaBudget = revelaMinutes - warmupMinutes;
    // `inbatch`: the LM reads each chunk's same-document siblings through the in-batch term (W fixed
    // by document identity), so that it has learnt to use other chunks before the retriever drives W.
    // Consecutive batches are the ones that hold siblings.
    const warmup =
      t.lmWarmup === "inbatch"
        ? new RevelaTrainer({
            ...revelaOptions(),
            loss: { ...revelaOptions().loss, dualLoss: true },
            accumulationSteps: 1,
            retrieverLr: 0,
            freezeLm: false,
            weightsFrom: "sameDocument",
          })
        : new LanguageModelTrainer({
            lm: models.lm,
            encode: (text) => models.tokenizer.encode(text),
            eosTokenId: models.tokenizer.eosTokenId,
            padTokenId: models.tokenizer.padTokenId,
            maxTokens: t.maxLmTokens,
            lr: t.lmLr,
            weightDecay: t.weightDecay,
            maxGradNorm: t.maxGradNorm,
            schedule: schedule(),
          });
    const run = await clock.phase(
      t.lmWarmup === "inbatch" ? "LM warm-up (in-batch, same-document W)" : "LM warm-up (next-token only)",
      io,
      () =>
        train("lm-warmup", warmup, t.steps, warmupMinutes, {
          batching: t.lmWarmup === "inbatch" ? "consecutive" : t.batching,
          ...(curves && probeHasSiblings ? { evaluate: lmReading } : {}),
        }),
    );
    warmup.dispose();
    lmWarmupCurve = run.curve;
    lmWarmupDir = run.runDir;
    if (initFromLm) {
      copyWeights(models.lm.params, retrieverModel);
      const initRun = await clock.phase("evaluate the retriever initialised from the LM", io, () =>
        denseRun(retriever, dataset, config.eval.batchSize),
      );
      rows.push(resultRow("Retriever init (warmed-up LM, before Revela)", initRun, dataset));
    }
  }
  // The contrastive baseline starts from the retriever's initial weights. A fresh backbone has
  // them (same seed) unless they came from the LM, which Revela goes on to train: keep a copy then.
  const initialWeights =
    initFromLm && config.baseline.contrastive
      ? new Map([...retrieverModel.params].map(([name, v]) => [name, tf.clone(v)]))
      : null;

  const lexical = new InBatchBm25(chunks);
  const revela = new RevelaTrainer({ ...revelaOptions(), neighbours: (batch) => lexical.nearest(batch) });
  const revelaRun = await clock.phase("train Revela", io, () =>
    train(
      "revela",
      revela,
      t.steps,
      revelaBudget,
      curves ? { evaluate: withReading(curveEvaluator(retriever, curves, config.eval.batchSize), lmReading) } : {},
    ),
  );
  const stepsDone = revelaRun.result.step;
  const weightsBatch = new ConsecutiveBatcher(chunks, { batchSize: t.batchSize, seed: config.seed + 1 }).next();
  const w = revela.weightsFor(weightsBatch);
  revela.dispose();
  const revelaDense = await clock.phase("evaluate Revela", io, () =>
    denseRun(retriever, dataset, config.eval.batchSize),
  );
  rows.push(resultRow("Revela", revelaDense, dataset));
  // `revela eval|encode|search --retriever <out>/retriever` use it.
  await clock.phase("save retriever", io, () => saveRetriever(revelaRetriever, path.join(config.out, "retriever")));
  const lossCurves: LossCurve[] = [...(lmWarmupCurve ? [lmWarmupCurve] : []), revelaRun.curve];
  let contrastiveRunDir: string | null = null;

  if (config.baseline.contrastive && stepsDone > 0) {
    const baselineModel: CausalLM = await models.makeRetrieverBackbone();
    if (initialWeights) copyWeights(initialWeights, baselineModel);
    const baselineEncoder = new DenseEncoder(baselineModel, models.tokenizer, encoderOptions);
    const contrastive = new ContrastiveTrainer({
      retriever: baselineEncoder,
      retrieverModel: baselineModel,
      tokenize: (text) => baselineEncoder.tokenize(text, "passage"),
      padTokenId: models.tokenizer.padTokenId,
      temperature: config.baseline.temperature,
      cropRatio: [0.1, 0.5],
      lr: config.baseline.lr,
      weightDecay: t.weightDecay,
      maxGradNorm: t.maxGradNorm,
      seed: config.seed,
      schedule: schedule(),
    });
    const run = await clock.phase(`train contrastive baseline (${stepsDone} steps)`, io, () =>
      train(
        "contrastive",
        contrastive,
        stepsDone,
        undefined,
        curves ? { evaluate: curveEvaluator(baselineEncoder, curves, config.eval.batchSize) } : {},
      ),
    );
    contrastiveRunDir = run.runDir;
    contrastive.dispose();
    lossCurves.push(run.curve);
    const dense = await clock.phase("evaluate contrastive baseline", io, () =>
      denseRun(baselineEncoder, dataset, config.eval.batchSize),
    );
    rows.push(resultRow("Contrastive baseline", dense, dataset));
    baselineModel.dispose();
  }
  if (initialWeights) tf.dispose([...initialWeights.values()]);
  if (config.eval.hybrid)
    rows.push(resultRow("BM25 + Revela (RRF)", reciprocalRankFusion([bm25Run, revelaDense]), dataset));

  const result: PipelineResult = {
    dataset: config.data ?? "SciFact (embedded)",
    queries: dataset.queries.size,
    documents: dataset.corpus.size,
    rows,
    lossCurves,
    learningCurves: learningCurves(revelaRun.runDir, contrastiveRunDir, lmWarmupDir),
    weights: { size: w.size, values: Array.from(w.weights), labels: weightsBatch.chunks.map((c) => c.docId) },
    config: {
      ...(config as unknown as Record<string, unknown>),
      resolvedModel: models.description,
      trainedSteps: stepsDone,
    },
    machine: {
      backend: backend.backend,
      threads: backend.threads,
      cores: backend.cores,
      node: process.version,
      tfjs: tf.version.tfjs,
      platform: `${os.platform()} ${os.arch()}`,
      cpu: os.cpus()[0]?.model ?? "unknown",
    },
    timings: clock.timings,
    startedAt,
    totalSeconds: clock.elapsed(),
  };
  models.lm.dispose();
  retrieverModel.dispose();
  return result;
}
