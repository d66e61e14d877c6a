import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { moveIntoPlace, syncPath } from "@revela/text-data";
import type { CheckpointData, JsonObject, TensorRecord } from "./checkpointData.js";
import { readTensorFiles, requireTensorMap, writeTensorFiles } from "./tensorFile.js";

export interface CheckpointStoreOptions {
  /** Checkpoints kept: after each save, all but the newest `keep` are deleted. Default 3; Infinity keeps all. */
  keep?: number;
}

export interface LoadedCheckpoint extends CheckpointData {
  step: number;
  dir: string;
}

const STATE_FILE = "state.json";
const STEP_DIR = /^step-(\d+)$/;
const OLD_DIR = /^\.old-step-(\d+)-/;
const stepDirName = (step: number) => `step-${String(step).padStart(8, "0")}`;

function requireStep(op: string, step: unknown): number {
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
    throw new Error(`${op}: step must be a non-negative integer, got ${String(step)}`);
  }
  return step;
}

/**
 * Checkpoints of one run in `runDir/checkpoints/step-NNNNNNNN/`: `tensors.json` + `tensors.bin`
 * (see tensorFile.ts) and `state.json`. A save writes into a hidden temp directory, fsyncs every
 * file and the directory, then renames it into place: a crash at any point leaves either the
 * complete new checkpoint or none, and the earlier checkpoints untouched. Readers ignore hidden
 * directories, and the next save removes leftovers. One writer per run directory.
 */
export class CheckpointStore {
  readonly runDir: string;
  readonly dir: string;
  readonly keep: number;

  constructor(runDir: string, options: CheckpointStoreOptions = {}) {
    if (typeof runDir !== "string" || runDir === "")
      throw new Error("CheckpointStore: runDir must be a non-empty path");
    const keep = options.keep ?? 3;
    if (!(keep === Number.POSITIVE_INFINITY || (Number.isInteger(keep) && keep >= 1))) {
      throw new Error(`CheckpointStore: options.keep must be a positive integer or Infinity, got ${String(keep)}`);
    }
    this.runDir = runDir;
    this.dir = path.join(runDir, "checkpoints");
    this.keep = keep;
  }

  /**
   * Checkpoint directories by step. A `.old-` directory is a complete checkpoint moved aside while
   * its step was being re-saved; it counts when the replacement never arrived (a crash in between).
   */
  private async directories(): Promise<Map<number, string>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw error;
    }
    const found = new Map<number, string>();
    for (const name of names) {
      const step = STEP_DIR.exec(name)?.[1];
      if (step !== undefined) found.set(Number(step), path.join(this.dir, name));
    }
    for (const name of names) {
      const step = OLD_DIR.exec(name)?.[1];
      if (step !== undefined && !found.has(Number(step))) found.set(Number(step), path.join(this.dir, name));
    }
    return found;
  }

  /** Steps that have a checkpoint, ascending. */
  async steps(): Promise<number[]> {
    return [...(await this.directories()).keys()].sort((a, b) => a - b);
  }

  /** Writes the checkpoint for `step` atomically (replacing one already there) and applies retention; returns its directory. */
  async save(step: number, data: CheckpointData): Promise<string> {
    const op = "CheckpointStore.save";
    requireStep(op, step);
    if (data === null || typeof data !== "object") throw new Error(`${op}: data must be {tensors, state}`);
    const tensors: Record<string, TensorRecord> = requireTensorMap(op, data.tensors);
    if (data.state === null || typeof data.state !== "object" || Array.isArray(data.state)) {
      throw new Error(`${op}: data.state must be a JSON object`);
    }
    if (Object.hasOwn(data.state, "step")) {
      throw new Error(
        `${op}: data.state.step is reserved (the store records the step itself); nest it, e.g. state.optimizer.step`,
      );
    }
    // Serialise first: a state that is not JSON fails before anything touches the disk.
    const stateJson = `${JSON.stringify({ step, ...data.state }, null, 1)}\n`;
    await mkdir(this.dir, { recursive: true });
    await this.removeLeftovers();
    const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
    const tmp = path.join(this.dir, `.tmp-${stepDirName(step)}-${tag}`);
    const final = path.join(this.dir, stepDirName(step));
    await mkdir(tmp);
    try {
      await writeTensorFiles(tmp, tensors);
      const handle = await open(path.join(tmp, STATE_FILE), "w");
      try {
        await handle.writeFile(stateJson);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await syncPath(tmp);
      // A crash between moveIntoPlace's two renames leaves an existing checkpoint of this step
      // under .old-, where readers still find it and the next save puts it back.
      await moveIntoPlace(tmp, final, path.join(this.dir, `.old-${stepDirName(step)}-${tag}`));
    } catch (error) {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw error;
    }
    await this.applyRetention();
    return final;
  }

  /** Deletes temp directories of interrupted saves; puts back a checkpoint moved aside whose replacement never arrived. */
  private async removeLeftovers(): Promise<void> {
    const names = await readdir(this.dir);
    for (const name of names) {
      const full = path.join(this.dir, name);
      const oldStep = OLD_DIR.exec(name)?.[1];
      if (oldStep !== undefined && !names.includes(stepDirName(Number(oldStep)))) {
        await rename(full, path.join(this.dir, stepDirName(Number(oldStep))));
        names.push(stepDirName(Number(oldStep)));
      } else if (name.startsWith(".tmp-") || name.startsWith(".old-")) await rm(full, { recursive: true, force: true });
    }
  }

  private async applyRetention(): Promise<void> {
    const steps = await this.steps();
    const drop = steps.length - this.keep;
    const dirs = await this.directories();
    for (const s of steps.slice(0, Math.max(0, drop)))
      await rm(dirs.get(s) as string, { recursive: true, force: true });
  }

  /** The checkpoint of `step`, validated (manifest, sizes, checksum, state). */
  async load(step: number): Promise<LoadedCheckpoint> {
    requireStep("CheckpointStore.load", step);
    const dirs = await this.directories();
    const dir = dirs.get(step);
    if (dir === undefined) {
      const available = [...dirs.keys()].sort((a, b) => a - b);
      throw new Error(
        `CheckpointStore.load: no checkpoint for step ${step} in ${this.dir} (have: ${available.length ? available.join(", ") : "none"})`,
      );
    }
    const tensors = await readTensorFiles(dir);
    const stateFile = path.join(dir, STATE_FILE);
    let state: JsonObject;
    try {
      state = JSON.parse(await readFile(stateFile, "utf8")) as JsonObject;
    } catch (error) {
      throw new Error(`${stateFile}: cannot read the checkpoint state: ${(error as Error).message}`);
    }
    if (state === null || typeof state !== "object" || Array.isArray(state) || state.step !== step) {
      throw new Error(
        `${stateFile}: must be a JSON object with "step": ${step}, got step ${JSON.stringify(state?.step)}`,
      );
    }
    return { step, dir, tensors, state };
  }

  /** The newest checkpoint, or undefined when the run has none. */
  async latest(): Promise<LoadedCheckpoint | undefined> {
    const steps = await this.steps();
    const last = steps[steps.length - 1];
    return last === undefined ? undefined : this.load(last);
  }
}
