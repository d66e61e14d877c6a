import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Batch, BatcherState, BatchSource } from "../data/types.js";
import type { CheckpointData, JsonObject } from "./checkpointData.js";
import { CheckpointStore } from "./checkpointStore.js";
import { MetricsLog, RUN_LOGS } from "./metricsLog.js";
import { type ProgressOptions, ProgressReporter } from "./progressReporter.js";
import { configKeys, writeRunConfig } from "./runConfig.js";
import type { StepMetrics, Trainable } from "./trainable.js";

export interface RunTrainingOptions<B = Batch> {
  /** Directory of the run: config.json, metrics.jsonl, checkpoints/. Created if absent. */
  runDir: string;
  /** The resolved config (see `resolveRunConfig`), a JSON-able object; written to runDir/config.json. */
  config: object;
  trainer: Trainable<B>;
  /** Where batches come from; its cursor is saved in every checkpoint. */
  batches: BatchSource<B>;
  /** Total steps of the run; a resumed run continues up to this count. */
  steps: number;
  /** Wall-clock budget of this invocation in minutes: no step starts after it. Default none. */
  maxMinutes?: number;
  /** Checkpoint every this many steps (and always when the run stops). Default 100. */
  checkpointEvery?: number;
  /**
   * Also checkpoint after a step that ends this many minutes or more after the last checkpoint (or
   * the start), so that a killed run loses at most about this much work whatever a step costs.
   * Default none: steps only.
   */
  checkpointMinutes?: number;
  /** Checkpoints kept on disk. Default 3. */
  keepCheckpoints?: number;
  /**
   * `"latest"`: continue from the newest checkpoint in runDir (start fresh if there is none).
   * `false`: start fresh; a runDir that already has checkpoints is an error rather than silently
   * mixing two runs. Default false.
   */
  resume?: "latest" | false;
  /**
   * Where the last good state is kept for the non-finite-loss guard. The loss is only known after
   * the trainer has applied its update, so by then the live weights are already poisoned; the
   * state to save must have been taken earlier.
   * - `"memory"` (default): after every good step the loop calls `exportState()` and holds the
   *   result in host memory (one copy of weights + optimizer state; a device→host copy per step,
   *   small next to a Revela step). On a NaN/Inf loss at step s, it writes that state as the
   *   checkpoint of step s − 1, so nothing good is lost.
   * - `"checkpoint"`: nothing extra per step; on a NaN/Inf loss the last periodic checkpoint on
   *   disk is the last good state (up to `checkpointEvery` − 1 steps are lost). For models whose
   *   state does not fit twice in host memory.
   */
  lastGoodState?: "memory" | "checkpoint";
  /** A reporter, or options for the default one (a bar on a TTY, plain lines otherwise). */
  progress?: ProgressReporter | ProgressOptions;
  /** Save a checkpoint and stop on Ctrl-C (SIGINT). Default true. */
  handleSigint?: boolean;
  /** Clock in ms for the time budget; injectable for tests. Default Date.now. */
  now?: () => number;
  /**
   * Learning curves: `evaluate(step)` runs before the first step of a fresh run, every
   * `evaluateEvery` steps, and when the run stops (if that step was not just evaluated); its figures
   * go to runDir/evals.jsonl, one line per evaluation. Its time counts against `maxMinutes`.
   */
  evaluate?: (step: number) => Promise<Record<string, number>>;
  evaluateEvery?: number;
}

export type StopReason = "steps" | "time" | "interrupted" | "non-finite";

export interface RunResult {
  /** Steps completed with a finite loss (the run's step counter where the good state stands). */
  step: number;
  /** Steps taken by this invocation (including a non-finite one). */
  stepsThisRun: number;
  reason: StopReason;
  /** Directory of the newest checkpoint on disk when the run returned, if any. */
  checkpoint: string | undefined;
  /** One line saying why the run stopped and what to do next. */
  message: string;
  lastMetrics: StepMetrics | undefined;
}

interface Snapshot {
  step: number;
  data: CheckpointData;
  batcher: BatcherState;
}

function requirePositiveInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new Error(`runTraining: ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function requireMetrics(step: number, metrics: unknown): StepMetrics {
  if (metrics === null || typeof metrics !== "object" || typeof (metrics as StepMetrics).loss !== "number") {
    throw new Error(
      `runTraining: trainer.step at step ${step} must resolve to {loss: number, ...}, got ${JSON.stringify(metrics)}`,
    );
  }
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v !== "number")
      throw new Error(`runTraining: metric "${k}" from trainer.step at step ${step} must be a number, got ${typeof v}`);
  }
  return metrics as StepMetrics;
}

/** Keys whose values differ between the config a run was started with and the one given now. */
function configChanges(before: JsonObject, after: JsonObject): string[] {
  const read = (c: JsonObject, key: string) =>
    key.split(".").reduce<unknown>((o, k) => (o as JsonObject | undefined)?.[k], c);
  const keys = new Set([...configKeys(before), ...configKeys(after)]);
  return [...keys]
    .filter((k) => JSON.stringify(read(before, k)) !== JSON.stringify(read(after, k)))
    .map((k) => `${k}: ${JSON.stringify(read(before, k))} → ${JSON.stringify(read(after, k))}`);
}

/**
 * The training loop around any `Trainable`: draws batches, steps, logs metrics (runDir/metrics.jsonl)
 * and progress, checkpoints every `checkpointEvery` steps and when it stops, and resumes exactly —
 * model, optimizer and RNG through the trainer's exported state, the data cursor through the
 * batcher's — so that N steps, a resume, and N more give the same weights as 2N steps in one go.
 * It stops at `steps`, at the time budget, on Ctrl-C (after the current step, with a checkpoint;
 * a second Ctrl-C kills at once), or on a NaN/Inf loss (see `lastGoodState`).
 */
export async function runTraining<B = Batch>(options: RunTrainingOptions<B>): Promise<RunResult> {
  if (options === null || typeof options !== "object") throw new Error("runTraining: options must be an object");
  const { runDir, config, trainer, batches } = options;
  if (typeof runDir !== "string" || runDir === "") throw new Error("runTraining: runDir must be a non-empty path");
  if (config === null || typeof config !== "object" || Array.isArray(config))
    throw new Error("runTraining: config must be an object");
  for (const method of ["step", "exportState", "importState"] as const) {
    if (typeof trainer?.[method] !== "function")
      throw new Error(`runTraining: trainer must implement ${method}() (the Trainable interface)`);
  }
  for (const method of ["next", "state", "restore"] as const) {
    if (typeof batches?.[method] !== "function")
      throw new Error(`runTraining: batches must implement ${method}() (a BatchSource)`);
  }
  const steps = requirePositiveInteger("steps", options.steps);
  const checkpointEvery = requirePositiveInteger("checkpointEvery", options.checkpointEvery ?? 100);
  const checkpointMinutes = options.checkpointMinutes;
  if (checkpointMinutes !== undefined && !(typeof checkpointMinutes === "number" && checkpointMinutes > 0)) {
    throw new Error(`runTraining: checkpointMinutes must be a positive number, got ${String(checkpointMinutes)}`);
  }
  const maxMinutes = options.maxMinutes;
  if (maxMinutes !== undefined && !(typeof maxMinutes === "number" && maxMinutes > 0)) {
    throw new Error(`runTraining: maxMinutes must be a positive number, got ${String(maxMinutes)}`);
  }
  const resume = options.resume ?? false;
  if (resume !== "latest" && resume !== false)
    throw new Error(`runTraining: resume must be "latest" or false, got ${JSON.stringify(resume)}`);
  const lastGoodState = options.lastGoodState ?? "memory";
  if (lastGoodState !== "memory" && lastGoodState !== "checkpoint") {
    throw new Error(
      `runTraining: lastGoodState must be "memory" or "checkpoint", got ${JSON.stringify(lastGoodState)}`,
    );
  }
  const now = options.now ?? Date.now;
  if (options.evaluate !== undefined && typeof options.evaluate !== "function")
    throw new Error("runTraining: evaluate must be a function (step) => Promise<{name: number}>");
  const evaluateEvery =
    options.evaluate === undefined ? 0 : requirePositiveInteger("evaluateEvery", options.evaluateEvery ?? 100);
  const progress =
    options.progress instanceof ProgressReporter ? options.progress : new ProgressReporter(options.progress);

  const store = new CheckpointStore(runDir, { keep: options.keepCheckpoints ?? 3 });
  const existing = await store.steps();
  let step = 0;
  let lastSaved: { step: number; dir: string } | undefined;
  if (existing.length > 0 && resume === false) {
    throw new Error(
      `runTraining: ${store.dir} already has checkpoints (latest step ${existing[existing.length - 1]}); pass resume: "latest" to continue that run, or use a new runDir`,
    );
  }
  const notes: string[] = [];
  if (resume === "latest" && existing.length > 0) {
    const ckpt = (await store.latest())!;
    const { trainer: trainerState, batcher } = ckpt.state;
    if (
      trainerState === null ||
      typeof trainerState !== "object" ||
      Array.isArray(trainerState) ||
      batcher === undefined
    ) {
      throw new Error(
        `${path.join(ckpt.dir, "state.json")}: a runTraining checkpoint needs "trainer" (object) and "batcher" fields`,
      );
    }
    await trainer.importState({ tensors: ckpt.tensors, state: trainerState });
    batches.restore(batcher as unknown as BatcherState);
    step = ckpt.step;
    lastSaved = { step, dir: ckpt.dir };
    const configFile = path.join(runDir, "config.json");
    if (existsSync(configFile)) {
      const changes = configChanges(JSON.parse(readFileSync(configFile, "utf8")) as JsonObject, config as JsonObject);
      if (changes.length > 0) notes.push(`config changed since the run started: ${changes.join("; ")}`);
    }
  }
  writeRunConfig(runDir, config);
  const startStep = step;
  const metricsLog = new MetricsLog(path.join(runDir, RUN_LOGS.metrics), { fromStep: startStep });
  const evalLog = options.evaluate ? new MetricsLog(path.join(runDir, RUN_LOGS.evals), { fromStep: startStep }) : null;
  let lastEvaluated = -1;
  const evaluate = async (): Promise<void> => {
    if (!options.evaluate || !evalLog || lastEvaluated === step) return;
    const figures = await options.evaluate(step);
    if (figures === null || typeof figures !== "object")
      throw new Error(`runTraining: evaluate(${step}) must resolve to {name: number}, got ${String(figures)}`);
    evalLog.append(step, figures);
    lastEvaluated = step;
    progress.log(
      `evaluation at step ${step}: ${Object.entries(figures)
        .map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(4) : v}`)
        .join(", ")}`,
    );
  };

  const snapshot = async (): Promise<Snapshot> => ({
    step,
    data: await trainer.exportState(),
    batcher: batches.state(),
  });
  const save = async (s: Snapshot, why: string): Promise<void> => {
    const dir = await store.save(s.step, {
      tensors: s.data.tensors,
      state: { reason: why, batcher: s.batcher as unknown as JsonObject, trainer: s.data.state },
    });
    lastSaved = { step: s.step, dir };
  };

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) {
      // Second Ctrl-C: give up on the clean stop and let the default handler end the process.
      process.removeListener("SIGINT", onSigint);
      process.kill(process.pid, "SIGINT");
      return;
    }
    interrupted = true;
    progress.log("interrupt: finishing the current step, then saving a checkpoint (Ctrl-C again to kill)");
  };
  let lastGood: Snapshot | undefined;
  let lastMetrics: StepMetrics | undefined;
  let reason: StopReason = "steps";
  let message = "";
  try {
    if (options.handleSigint ?? true) process.on("SIGINT", onSigint);
    const deadline = maxMinutes === undefined ? Number.POSITIVE_INFINITY : now() + maxMinutes * 60_000;
    // The clock is read only when time-based checkpoints are on (injected clocks count their calls).
    const timed = checkpointMinutes !== undefined;
    let lastCheckpointAt = timed ? now() : 0;
    progress.start(steps, startStep, maxMinutes === undefined ? Number.POSITIVE_INFINITY : maxMinutes * 60_000);
    for (const note of notes) progress.log(note);
    if (lastGoodState === "memory" && step < steps) lastGood = await snapshot();
    if (startStep === 0 && step < steps) await evaluate();
    while (step < steps) {
      // A step resolves through promises alone (tfjs), which never hand control back to the event
      // loop: without this turn of it, a real Ctrl-C (a signal is an event-loop task) would wait for
      // the next checkpoint's file writes, up to checkpointEvery steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (interrupted) {
        reason = "interrupted";
        break;
      }
      if (now() >= deadline) {
        reason = "time";
        break;
      }
      const metrics = requireMetrics(step + 1, await trainer.step(batches.next()));
      lastMetrics = metrics;
      metricsLog.append(step + 1, metrics);
      if (!Number.isFinite(metrics.loss)) {
        reason = "non-finite";
        const bad = step + 1;
        if (lastGood && lastSaved?.step !== lastGood.step) await save(lastGood, "last-good");
        const where = lastSaved
          ? `the last good state is checkpoint step ${lastSaved.step} (${lastSaved.dir})`
          : "no checkpoint of a good state exists";
        message = `stopped: loss is ${metrics.loss} at step ${bad}; ${where}. Resume from it with resume: "latest" after lowering the learning rate or tightening gradient clipping.`;
        break;
      }
      step++;
      progress.update(step, metrics);
      const due =
        step % checkpointEvery === 0 || (timed && now() - lastCheckpointAt >= (checkpointMinutes as number) * 60_000);
      if (lastGoodState === "memory") {
        lastGood = await snapshot();
        if (due) await save(lastGood, "periodic");
      } else if (due) await save(await snapshot(), "periodic");
      if (due && timed) lastCheckpointAt = now();
      if (evaluateEvery > 0 && step % evaluateEvery === 0) await evaluate();
    }
    if (reason !== "non-finite" && step > startStep) await evaluate();
    if (reason !== "non-finite" && step > startStep && lastSaved?.step !== step) {
      await save(lastGood?.step === step ? lastGood : await snapshot(), reason === "steps" ? "final" : reason);
    }
    if (reason === "steps") message = `finished: step ${step} of ${steps}`;
    if (reason === "time")
      message = `stopped: time budget of ${maxMinutes} min reached at step ${step} of ${steps}; resume with resume: "latest"`;
    if (reason === "interrupted")
      message = `interrupted at step ${step} of ${steps}; checkpoint saved, resume with resume: "latest"`;
    progress.log(message);
  } finally {
    process.removeListener("SIGINT", onSigint);
    progress.stop();
    metricsLog.close();
    evalLog?.close();
  }
  return {
    step,
    stepsThisRun: step - startStep + (reason === "non-finite" ? 1 : 0),
    reason,
    checkpoint: lastSaved?.dir,
    message,
    lastMetrics,
  };
}
