import os from "node:os";
import path from "node:path";
import { type BeirDataset, Bm25Index, loadBeirDataset, type Run, reciprocalRankFusion } from "@revela/eval";
import {
  type BackendName,
  type BackendReport,
  formatBytes,
  initBackend,
  resetWasmTensorPeak,
  wasmHeapBytes,
  wasmTensorBytes,
} from "@revela/kernels";
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
  holdsSameDocumentSiblings,
  InBatchBm25,
  LanguageModelTrainer,
  LrSchedule,
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
import { buildModels, copyWeights, type Models } from "./models.js";
import type { LossCurve, PhaseTiming, PipelineResult, ResultRow } from "./pipelineResult.js";
import { revelaLossOptions } from "./revelaLossOptions.js";
import { learningCurves, series } from "./runCurves.js";
import { RunState } from "./runState.js";
import { trainingBudget } from "./trainingBudget.js";

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
    resetWasmTensorPeak();
    const out = await f();
    const seconds = (Date.now() - t0) / 1000;
    this.timings.push({ phase: name, seconds });
    // On wasm, what the phase needed of the 4 GiB heap (the heap never shrinks: its size is the run's
    // largest so far), so that a run that came close to the limit says so.
    const heap = wasmHeapBytes();
    const memory =
      heap === null
        ? ""
        : ` (wasm tensor buffers peaked at ${formatBytes(wasmTensorBytes().peak)}; heap ${formatBytes(heap)})`;
    io.log(`  ${name}: ${seconds.toFixed(1)} s${memory}`);
    return out;
  }
}

/** What every phase reads: the config, the log, the clock, the run's state, the result rows so far. */
interface Stage {
  config: AppConfig;
  io: PipelineIO;
  clock: Clock;
  runState: RunState;
  rows: ResultRow[];
}

interface Data {
  dataset: BeirDataset;
  corpusTexts: string[];
  chunks: Chunk[];
  /** The learning curves' evaluation slice; null when curves are off. */
  curves: ReturnType<typeof curveSlice> | null;
}

/** The models and what trains and evaluates them. */
interface Encoders {
  models: Models;
  retrieverModel: CausalLM;
  revelaRetriever: Retriever;
  retriever: DenseEncoder;
  encoderOptions: { maxLength: number; pooling: AppConfig["model"]["pooling"] };
  tokenizers: BatchTokenizers;
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

/** Phase: the dataset, its chunks, and the learning curves' slice. Trains on the corpus only, never the queries or qrels. */
async function loadData({ config, io, clock }: Stage): Promise<Data> {
  const dataDir = config.data ?? io.defaultDataDir;
  const dataset: BeirDataset = await clock.phase("load dataset", io, () =>
    loadBeirDataset(dataDir, { split: config.split }),
  );
  for (const w of dataset.warnings) io.log(`  warning: ${w}`);
  requireJudgedQueries(dataset, dataDir, config.split);
  const emptyDocuments = requireCorpusText(dataset, dataDir);
  if (emptyDocuments) io.log(`  warning: ${emptyDocuments}`);
  const docs = [...dataset.corpus.values()];
  const chunks: Chunk[] = docs.flatMap((d) =>
    chunkDocument({ id: d.id, text: documentText(d) }, { maxWords: config.train.chunkWords }),
  );
  io.log(
    `  ${docs.length} documents → ${chunks.length} chunks of ≤ ${config.train.chunkWords} words; ${dataset.queries.size} ${config.split} queries`,
  );
  // The same small slice of the evaluation data every `curveEvery` steps.
  const curves =
    config.eval.curveEvery > 0
      ? curveSlice(dataset, {
          queries: config.eval.curveQueries,
          documents: config.eval.curveDocuments,
          seed: config.seed,
        })
      : null;
  return { dataset, corpusTexts: docs.map(documentText), chunks, curves };
}

/** Phase: the models, the retriever that Revela trains, and the batch tokenizers of its steps. */
async function buildEncoders({ config, io, clock }: Stage, data: Data): Promise<Encoders> {
  const models = await clock.phase("build models", io, () => buildModels(config, data.corpusTexts));
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
  const tokenizers: BatchTokenizers = {
    lmEncode: (t) => models.tokenizer.encode(t),
    lmEosTokenId: models.tokenizer.eosTokenId,
    lmPadTokenId: models.tokenizer.padTokenId,
    // Training views are as long as the recipe says, evaluation documents as eval.maxDocTokens.
    retrieverTokenize: (t, kind, o) =>
      retriever.tokenize(t, kind, { ...o, maxLength: config.train.maxRetrieverTokens }),
    retrieverPadTokenId: models.tokenizer.padTokenId,
  };
  return { models, retrieverModel, revelaRetriever, retriever, encoderOptions, tokenizers };
}

/** The learning-rate schedule of every training phase. Updates, not batches: with accumulation the step cap holds steps / accumulationSteps updates. */
function schedule(t: AppConfig["train"]): LrSchedule {
  return new LrSchedule({
    kind: t.decay,
    warmup: t.warmup,
    warmupSteps: t.warmupSteps,
    ...(t.decay === "linear"
      ? { totalSteps: Math.max(t.warmupSteps + 1, Math.ceil(t.steps / t.accumulationSteps)) }
      : {}),
  });
}

/** The Revela step as configured; the in-batch LM warm-up reuses it with W fixed by document. */
function revelaTrainerOptions(config: AppConfig, enc: Encoders): RevelaTrainerOptions {
  const t = config.train;
  return {
    retriever: enc.retriever,
    retrieverModel: enc.retrieverModel,
    lm: enc.models.lm,
    tokenizers: enc.tokenizers,
    loss: revelaLossOptions(t),
    accumulationSteps: t.accumulationSteps,
    seed: config.seed,
    maxLmTokens: t.maxLmTokens,
    retrieverLr: t.retrieverLr,
    lmLr: t.lmLr,
    weightDecay: t.weightDecay,
    maxGradNorm: t.maxGradNorm,
    freezeLm: t.freezeLm,
    schedule: schedule(t),
  };
}

interface PhaseRun {
  result: Awaited<ReturnType<typeof runTraining>>;
  runDir: string;
  curve: LossCurve;
}

/**
 * Trains one phase into runs/<name> — or, under --resume, restores it if an earlier invocation
 * finished it. Stops the pipeline if training diverged or was interrupted.
 */
async function trainPhase(
  stage: Stage,
  data: Data,
  name: string,
  trainer: Trainable<Batch>,
  steps: number,
  minutes: number | undefined,
  extra: {
    batching?: AppConfig["train"]["batching"];
    evaluate?: (step: number) => Promise<Record<string, number>>;
  } = {},
): Promise<PhaseRun> {
  const { config, io, runState } = stage;
  const t = config.train;
  const batching = extra.batching ?? t.batching;
  const runDir = path.join(config.out, "runs", name);
  const restored = await runState.restoreFinished(name, runDir, trainer);
  if (restored) {
    io.log(`  ${name}: ${restored.message}`);
    return { result: restored, runDir, curve: series(runDir, name) };
  }
  const result = await runTraining({
    runDir,
    config: config as unknown as Parameters<typeof runTraining>[0]["config"],
    trainer,
    batches:
      batching === "bm25"
        ? new Bm25NeighbourBatcher(data.chunks, { batchSize: t.batchSize, seed: config.seed, otherDocuments: true })
        : new ConsecutiveBatcher(data.chunks, { batchSize: t.batchSize, seed: config.seed }),
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
  return { result, runDir, curve: series(runDir, name) };
}

/**
 * The reading probe (learning curves): does the LM's loss depend on which chunks it reads? Fixed
 * batches of consecutive chunks, which hold same-document siblings; corpora of one-chunk documents
 * have none, and get no probe (null).
 */
function readingProbe(stage: Stage, data: Data, enc: Encoders): (() => Promise<Record<string, number>>) | null {
  const { config, io } = stage;
  const t = config.train;
  const batcher = new ConsecutiveBatcher(data.chunks, { batchSize: t.batchSize, seed: config.seed + 2 });
  const batches = Array.from({ length: READING_PROBE_BATCHES }, () => batcher.next());
  if (!holdsSameDocumentSiblings(batches)) {
    if (data.curves) io.log("  reading probe: off (no batch holds two chunks of one document)");
    return null;
  }
  return async () => {
    const r = readingGain(enc.models.lm, batches, enc.tokenizers, t.maxLmTokens, revelaLossOptions(t));
    return { readingGain: r.gain, sameDocumentLoss: r.sameDocument, otherDocumentsLoss: r.otherDocuments };
  };
}

/**
 * Phase: the LM warm-up (from-scratch models). `plain`: next-token training. `inbatch`: the LM
 * reads each chunk's same-document siblings through the in-batch term (W fixed by document
 * identity), so that it has learnt to use other chunks before the retriever drives W; consecutive
 * batches are the ones that hold siblings.
 */
async function lmWarmupPhase(
  stage: Stage,
  data: Data,
  enc: Encoders,
  minutes: number,
  probe: (() => Promise<Record<string, number>>) | null,
): Promise<PhaseRun> {
  const { config, io, clock } = stage;
  const t = config.train;
  const inbatch = t.lmWarmup === "inbatch";
  const revela = revelaTrainerOptions(config, enc);
  const warmup = inbatch
    ? new RevelaTrainer({
        ...revela,
        loss: { ...revela.loss, dualLoss: true },
        accumulationSteps: 1,
        retrieverLr: 0,
        freezeLm: false,
        weightsFrom: "sameDocument",
      })
    : new LanguageModelTrainer({
        lm: enc.models.lm,
        encode: (text) => enc.models.tokenizer.encode(text),
        eosTokenId: enc.models.tokenizer.eosTokenId,
        padTokenId: enc.models.tokenizer.padTokenId,
        maxTokens: t.maxLmTokens,
        lr: t.lmLr,
        weightDecay: t.weightDecay,
        maxGradNorm: t.maxGradNorm,
        schedule: schedule(t),
      });
  const run = await clock.phase(
    inbatch ? "LM warm-up (in-batch, same-document W)" : "LM warm-up (next-token only)",
    io,
    () =>
      trainPhase(stage, data, "lm-warmup", warmup, t.steps, minutes, {
        batching: inbatch ? "consecutive" : t.batching,
        ...(data.curves && probe ? { evaluate: probe } : {}),
      }),
  );
  warmup.dispose();
  return run;
}

/** Phase: Revela training, then W of one batch for the report's heatmap. */
async function revelaPhase(
  stage: Stage,
  data: Data,
  enc: Encoders,
  minutes: number,
  probe: (() => Promise<Record<string, number>>) | null,
): Promise<{ run: PhaseRun; weights: NonNullable<PipelineResult["weights"]> }> {
  const { config, io, clock } = stage;
  const t = config.train;
  const lexical = new InBatchBm25(data.chunks);
  const revela = new RevelaTrainer({
    ...revelaTrainerOptions(config, enc),
    neighbours: (batch) => lexical.nearest(batch),
  });
  const retrieval = data.curves ? curveEvaluator(enc.retriever, data.curves, config.eval.batchSize) : null;
  const evaluate = retrieval ? withReading(retrieval, probe ?? (async () => ({}))) : undefined;
  const run = await clock.phase("train Revela", io, () =>
    trainPhase(stage, data, "revela", revela, t.steps, minutes, evaluate ? { evaluate } : {}),
  );
  const batch = new ConsecutiveBatcher(data.chunks, { batchSize: t.batchSize, seed: config.seed + 1 }).next();
  const w = revela.weightsFor(batch);
  revela.dispose();
  return {
    run,
    weights: { size: w.size, values: Array.from(w.weights), labels: batch.chunks.map((c) => c.docId) },
  };
}

/**
 * Phase: the contrastive baseline, as many steps as Revela took, from the retriever's initial
 * weights (`initialWeights` when they came from the LM; a fresh backbone with the same seed has
 * them otherwise). Adds its evaluation row; returns its run directory.
 */
async function contrastivePhase(
  stage: Stage,
  data: Data,
  enc: Encoders,
  steps: number,
  initialWeights: Map<string, tf.Tensor> | null,
): Promise<PhaseRun> {
  const { config, io, clock, rows } = stage;
  const t = config.train;
  const baselineModel: CausalLM = await enc.models.makeRetrieverBackbone();
  if (initialWeights) copyWeights(initialWeights, baselineModel);
  const encoder = new DenseEncoder(baselineModel, enc.models.tokenizer, enc.encoderOptions);
  const contrastive = new ContrastiveTrainer({
    retriever: encoder,
    retrieverModel: baselineModel,
    tokenize: (text) => encoder.tokenize(text, "passage"),
    padTokenId: enc.models.tokenizer.padTokenId,
    temperature: config.baseline.temperature,
    cropRatio: [0.1, 0.5],
    lr: config.baseline.lr,
    weightDecay: t.weightDecay,
    maxGradNorm: t.maxGradNorm,
    seed: config.seed,
    schedule: schedule(t),
  });
  const curve = data.curves ? { evaluate: curveEvaluator(encoder, data.curves, config.eval.batchSize) } : {};
  const run = await clock.phase(`train contrastive baseline (${steps} steps)`, io, () =>
    trainPhase(stage, data, "contrastive", contrastive, steps, undefined, curve),
  );
  contrastive.dispose();
  const dense = await clock.phase("evaluate contrastive baseline", io, () =>
    denseRun(encoder, data.dataset, config.eval.batchSize),
  );
  rows.push(resultRow("Contrastive baseline", dense, data.dataset));
  baselineModel.dispose();
  return run;
}

function machineInfo(backend: BackendReport): PipelineResult["machine"] {
  return {
    backend: backend.backend,
    threads: backend.threads,
    cores: backend.cores,
    node: process.version,
    tfjs: tf.version.tfjs,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? "unknown",
  };
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
  const stage: Stage = { config, io, clock, runState, rows: [] };
  const { rows } = stage;
  const t = config.train;

  const data = await loadData(stage);
  const bm25Run: Run = await clock.phase("BM25", io, () =>
    Bm25Index.build(data.dataset.corpus).retrieve(data.dataset.queries, { k: 100 }),
  );
  rows.push(resultRow("BM25", bm25Run, data.dataset));

  const enc = await buildEncoders(stage, data);
  const untrainedStart = clock.elapsed();
  const untrainedRun = await clock.phase("evaluate untrained retriever", io, () =>
    denseRun(enc.retriever, data.dataset, config.eval.batchSize),
  );
  const evalSeconds = clock.elapsed() - untrainedStart;
  rows.push(resultRow("Untrained retriever", untrainedRun, data.dataset));

  // A frozen LM is never trained, so it gets no warm-up either (train.freezeLm with a copying LM).
  const lmWarmup = !config.model.dir && !t.freezeLm && t.lmWarmupShare > 0;
  const initFromLm = lmWarmup && t.retrieverInit === "lm";
  const budget = trainingBudget({
    minutes: config.minutes,
    elapsedSeconds: clock.elapsed(),
    evalSeconds,
    lmWarmupShare: lmWarmup ? t.lmWarmupShare : 0,
    evaluatesInit: initFromLm,
    contrastive: config.baseline.contrastive,
  });
  io.log(`  training budget: ${budget.trainingMinutes.toFixed(1)} min (whole run: ${config.minutes} min)`);

  const probe = readingProbe(stage, data, enc);
  let warmupRun: PhaseRun | null = null;
  if (lmWarmup) {
    warmupRun = await lmWarmupPhase(stage, data, enc, budget.lmWarmupMinutes, probe);
    if (initFromLm) {
      copyWeights(enc.models.lm.params, enc.retrieverModel);
      const initRun = await clock.phase("evaluate the retriever initialised from the LM", io, () =>
        denseRun(enc.retriever, data.dataset, config.eval.batchSize),
      );
      rows.push(resultRow("Retriever init (warmed-up LM, before Revela)", initRun, data.dataset));
    }
  }
  // The baseline starts from the retriever's initial weights; when they came from the LM, Revela
  // goes on to train them: keep a copy.
  const initialWeights =
    initFromLm && config.baseline.contrastive
      ? new Map([...enc.retrieverModel.params].map(([name, v]) => [name, tf.clone(v)]))
      : null;

  const revela = await revelaPhase(stage, data, enc, budget.revelaMinutes, probe);
  const stepsDone = revela.run.result.step;
  const revelaDense = await clock.phase("evaluate Revela", io, () =>
    denseRun(enc.retriever, data.dataset, config.eval.batchSize),
  );
  rows.push(resultRow("Revela", revelaDense, data.dataset));
  // `revela eval|encode|search --retriever <out>/retriever` use it.
  await clock.phase("save retriever", io, () => saveRetriever(enc.revelaRetriever, path.join(config.out, "retriever")));

  const contrastive =
    config.baseline.contrastive && stepsDone > 0
      ? await contrastivePhase(stage, data, enc, stepsDone, initialWeights)
      : null;
  if (initialWeights) tf.dispose([...initialWeights.values()]);
  if (config.eval.hybrid)
    rows.push(resultRow("BM25 + Revela (RRF)", reciprocalRankFusion([bm25Run, revelaDense]), data.dataset));

  const result: PipelineResult = {
    dataset: config.data ?? "SciFact (embedded)",
    queries: data.dataset.queries.size,
    documents: data.dataset.corpus.size,
    rows,
    lossCurves: [warmupRun?.curve, revela.run.curve, contrastive?.curve].filter((c): c is LossCurve => !!c),
    learningCurves: learningCurves(revela.run.runDir, contrastive?.runDir ?? null, warmupRun?.runDir ?? null),
    weights: revela.weights,
    config: {
      ...(config as unknown as Record<string, unknown>),
      resolvedModel: enc.models.description,
      trainedSteps: stepsDone,
    },
    machine: machineInfo(backend),
    timings: clock.timings,
    startedAt,
    totalSeconds: clock.elapsed(),
  };
  enc.models.lm.dispose();
  enc.retrieverModel.dispose();
  return result;
}
