import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import path from "node:path";
import { CheckpointStore, type RunResult, type Trainable } from "@revela/trainer";
import type { AppConfig } from "./appConfig.js";

/**
 * `<out>/run-state.json`: what `revela train --resume` needs to continue a run — the config it
 * started with and the training phases that have finished (their last step, why they stopped).
 * Written when a run starts and after each phase, atomically (temp file, fsync, rename).
 *
 * A killed run keeps: this file, every phase's run folder under `runs/` with its newest
 * checkpoint (every `train.checkpointEvery` steps or `train.checkpointMinutes` minutes, and at the
 * phase's end), and the retriever and report of an earlier finished invocation, if any. A resumed
 * run rebuilds the data and models from the config and seed, restores finished phases from their
 * last checkpoint instead of training them, continues the interrupted phase from its newest
 * checkpoint, and recomputes the evaluations.
 */
export const RUN_STATE_FILE = "run-state.json";
const FORMAT = "revela-train-run";
const VERSION = 1;

/** The entries of an output folder that a training run writes: what `--overwrite` replaces. */
export const RUN_ENTRIES = [RUN_STATE_FILE, "runs", "retriever", "results.json", "results.md", "report.html"];

export interface FinishedPhase {
  step: number;
  reason: "steps" | "time";
  message: string;
}

interface RunStateFile {
  format: typeof FORMAT;
  version: typeof VERSION;
  config: AppConfig;
  phases: Record<string, FinishedPhase>;
}

/** Reads and checks `<out>/run-state.json`; errors name the file and the field. */
export function readRunState(out: string): RunStateFile {
  const file = path.join(out, RUN_STATE_FILE);
  if (!existsSync(file)) {
    throw new Error(`${file}: not found, so ${out} holds no run to resume (start one without --resume)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const o = json as Partial<RunStateFile> | null;
  if (typeof o !== "object" || o === null || o.format !== FORMAT) {
    throw new Error(`${file}: field "format" must be "${FORMAT}" (not a revela train run state)`);
  }
  if (o.version !== VERSION)
    throw new Error(`${file}: version ${JSON.stringify(o.version)}; this revela reads ${VERSION}`);
  if (typeof o.config !== "object" || o.config === null) throw new Error(`${file}: field "config" must be an object`);
  if (typeof o.phases !== "object" || o.phases === null) throw new Error(`${file}: field "phases" must be an object`);
  for (const [name, phase] of Object.entries(o.phases)) {
    if (!Number.isSafeInteger(phase?.step) || (phase.reason !== "steps" && phase.reason !== "time")) {
      throw new Error(`${file}: field "phases.${name}" must be {step, reason: "steps" | "time", message}`);
    }
  }
  return o as RunStateFile;
}

/** The training phases of one run in an output folder, and which of them an earlier invocation finished. */
export class RunState {
  private constructor(
    readonly out: string,
    readonly resuming: boolean,
    private readonly state: RunStateFile,
  ) {
    this.written = resuming;
  }

  /**
   * A new run: no phase finished. The file is written when the first phase starts, so that a run
   * that fails before training (a bad corpus, a wrong path) leaves nothing that claims to be a run.
   */
  static async start(out: string, config: AppConfig): Promise<RunState> {
    return new RunState(out, false, { format: FORMAT, version: VERSION, config, phases: {} });
  }

  /** Continues the run recorded in `out`. */
  static resume(out: string): RunState {
    return new RunState(out, true, readRunState(out));
  }

  /**
   * When an earlier invocation finished phase `name`, loads its last checkpoint into `trainer` and
   * returns what that run returned; otherwise null (the phase has to train, continuing from its
   * newest checkpoint when resuming).
   */
  async restoreFinished<B>(name: string, runDir: string, trainer: Trainable<B>): Promise<RunResult | null> {
    const finished = this.state.phases[name];
    if (finished === undefined) {
      if (!this.written) await this.write();
      return null;
    }
    const checkpoint = await new CheckpointStore(runDir).latest();
    if (checkpoint === undefined || checkpoint.step !== finished.step) {
      throw new Error(
        `${path.join(runDir, "checkpoints")}: ${RUN_STATE_FILE} says phase "${name}" finished at step ${finished.step}, but its newest checkpoint is ${checkpoint ? `step ${checkpoint.step}` : "missing"}`,
      );
    }
    await trainer.importState({ tensors: checkpoint.tensors, state: checkpoint.state.trainer as never });
    return {
      step: finished.step,
      stepsThisRun: 0,
      reason: finished.reason,
      checkpoint: checkpoint.dir,
      message: `finished in an earlier run (${finished.message}); restored from its checkpoint`,
      lastMetrics: undefined,
    };
  }

  /** Records that phase `name` is done (by steps or time), so that a resume skips it. */
  async markFinished(name: string, result: RunResult): Promise<void> {
    if (result.reason !== "steps" && result.reason !== "time") return;
    this.state.phases[name] = { step: result.step, reason: result.reason, message: result.message };
    await this.write();
  }

  private written = false;

  private async write(): Promise<void> {
    await mkdir(this.out, { recursive: true });
    const file = path.join(this.out, RUN_STATE_FILE);
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    const handle = await open(tmp, "w");
    try {
      await handle.writeFile(`${JSON.stringify(this.state, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    this.written = true;
  }
}
