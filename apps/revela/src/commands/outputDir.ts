import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { RUN_ENTRIES } from "./pipelineApi.js";

/**
 * Checks, creating nothing, that the output folder can be created and written: a file is written
 * (and removed) in it, or in its nearest existing parent when it does not exist yet. An unwritable
 * --out then fails before any work, naming the flag, instead of with a raw EPERM after training.
 * Returns the absolute path.
 */
export function checkOutputDir(dir: string, source = "--out"): string {
  const abs = path.resolve(dir);
  let existing = abs;
  for (;;) {
    const stat = statSync(existing, { throwIfNoEntry: false });
    if (stat?.isFile()) throw new Error(`${source} ${dir}: ${existing} is a file, not a directory`);
    if (stat || path.dirname(existing) === existing) break;
    existing = path.dirname(existing);
  }
  // mkdir succeeds on an existing read-only folder, and stat bits lie to root: only writing tells.
  const probe = path.join(existing, `.tmp-write-check-${process.pid}`);
  try {
    closeSync(openSync(probe, "w"));
    unlinkSync(probe);
  } catch (error) {
    const where = existing === abs ? "" : ` (creating it in ${existing})`;
    throw new Error(`${source} ${dir}: cannot write in the output directory${where}: ${(error as Error).message}`);
  }
  return abs;
}

/** Checks the output folder (see checkOutputDir), then creates it and its parents. Returns the absolute path. */
export function prepareOutputDir(dir: string, source = "--out"): string {
  const abs = checkOutputDir(dir, source);
  try {
    mkdirSync(abs, { recursive: true });
  } catch (error) {
    throw new Error(`${source} ${dir}: cannot create the output directory: ${(error as Error).message}`);
  }
  return abs;
}

/** A temp file or folder of a write that a crash interrupted (`x.tmp-<pid>…`, `.partial-…`, `.tmp-…`). */
const LEFTOVER = /(^\.partial-)|(^\.tmp-)|(\.tmp-\d+(-[0-9a-f]{8})?$)|(\.partial$)/;

/**
 * Deletes what crashed writes left in the output folder and in its training runs' folders — temp
 * files of results, reports and run state, unfinished retriever copies — and returns their names.
 * Completed files are never touched (a retriever moved aside mid-save is the retriever's own to restore).
 */
export function removeLeftovers(out: string): string[] {
  const removed: string[] = [];
  const sweep = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!LEFTOVER.test(name)) continue;
      rmSync(path.join(dir, name), { recursive: true, force: true });
      removed.push(path.join(rel, name));
    }
  };
  sweep(out, "");
  const runs = path.join(out, "runs");
  for (const run of statSync(runs, { throwIfNoEntry: false })?.isDirectory() ? readdirSync(runs) : []) {
    sweep(path.join(runs, run), path.join("runs", run));
  }
  return removed;
}

/**
 * The entries of a previous training run in `out` (run state, runs/, the retriever, results and
 * report), which a new run must neither mix with nor delete unasked.
 */
export function previousRunEntries(out: string): string[] {
  let names: string[];
  try {
    names = readdirSync(out);
  } catch {
    return [];
  }
  return names.filter((name) => RUN_ENTRIES.includes(name) || name.startsWith(".old-retriever-"));
}

/**
 * Makes `out` ready for a new run: with `overwrite` the previous run's entries are deleted (the
 * user asked), otherwise a previous run is an error that says how to continue or replace it.
 */
export function claimOutputDir(out: string, overwrite: boolean, source = "--out"): void {
  const previous = previousRunEntries(out);
  if (previous.length === 0) return;
  if (!overwrite) {
    throw new Error(
      `${source} ${out} holds a previous run (${previous.join(", ")}): continue it with --resume, replace it with --overwrite, or choose another --out`,
    );
  }
  for (const name of previous) rmSync(path.join(out, name), { recursive: true, force: true });
}
