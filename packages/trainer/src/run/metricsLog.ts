import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";

/** The logs runTraining writes in a run directory: one line per step, and one per evaluation. */
export const RUN_LOGS = { metrics: "metrics.jsonl", evals: "evals.jsonl" } as const;
export type RunLog = keyof typeof RUN_LOGS;

export interface MetricsLogOptions {
  /**
   * Keep the lines of steps ≤ this and drop the rest (a resumed run rewrites what came after its
   * checkpoint); 0, the default, starts an empty log.
   */
  fromStep?: number;
}

/**
 * One JSON line per step — `{"step": 12, "loss": 3.1, ..., "time": "2026-…Z"}` — appended with a
 * synchronous write, so a crash loses at most the line being written. Non-finite values are
 * written as null (JSON has no NaN). Opening for a resumed run keeps the leading lines with
 * step ≤ `fromStep` and drops everything after (including a torn last line), so the log reads as
 * if the run had never stopped.
 */
export class MetricsLog {
  readonly file: string;
  private fd: number | undefined;
  private lastStep: number;

  constructor(file: string, options: MetricsLogOptions = {}) {
    if (typeof file !== "string" || file === "") throw new Error("MetricsLog: file must be a non-empty path");
    const fromStep = options.fromStep ?? 0;
    if (!Number.isInteger(fromStep) || fromStep < 0) {
      throw new Error(`MetricsLog: options.fromStep must be a non-negative integer, got ${String(fromStep)}`);
    }
    this.file = file;
    mkdirSync(path.dirname(file), { recursive: true });
    const kept: string[] = [];
    if (fromStep > 0 && existsSync(file)) {
      for (const line of readFileSync(file, "utf8").split("\n")) {
        let step: unknown;
        try {
          step = (JSON.parse(line) as { step?: unknown }).step;
        } catch {
          break;
        }
        if (typeof step !== "number" || step > fromStep) break;
        kept.push(line);
      }
    }
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, kept.map((l) => `${l}\n`).join(""));
    renameSync(tmp, file);
    // −1 when empty: a log of evaluations starts with step 0 (before training).
    this.lastStep = kept.length > 0 ? (JSON.parse(kept[kept.length - 1] as string) as { step: number }).step : -1;
    this.fd = openSync(file, "a");
  }

  /** Appends the line for `step` (must be after the last one written). */
  append(step: number, metrics: Record<string, number>): void {
    if (this.fd === undefined) throw new Error(`MetricsLog.append: ${this.file} has been closed`);
    if (!Number.isInteger(step) || step <= this.lastStep) {
      throw new Error(
        `MetricsLog.append: step must be an integer after ${Math.max(this.lastStep, 0)}, got ${String(step)}`,
      );
    }
    const line: Record<string, number | string | null> = { step };
    for (const [key, value] of Object.entries(metrics)) {
      if (key === "step" || key === "time") throw new Error(`MetricsLog.append: metric name "${key}" is reserved`);
      if (typeof value !== "number")
        throw new Error(`MetricsLog.append: metric "${key}" must be a number, got ${typeof value}`);
      line[key] = Number.isFinite(value) ? value : null;
    }
    line.time = new Date().toISOString();
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
    this.lastStep = step;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * One metric of a run's log as points by step, for a chart: the lines where it is a finite number
 * (a null — a non-finite value — or a missing key is skipped). A run without that log gives [];
 * reading stops at a torn line, as a resumed MetricsLog does.
 */
export function readMetricSeries(
  runDir: string,
  metric: string,
  log: RunLog = "metrics",
): { step: number; value: number }[] {
  if (typeof runDir !== "string" || runDir === "") throw new Error("readMetricSeries: runDir must be a non-empty path");
  if (typeof metric !== "string" || metric === "") throw new Error("readMetricSeries: metric must be a non-empty name");
  if (!Object.hasOwn(RUN_LOGS, log)) {
    throw new Error(`readMetricSeries: log must be one of ${Object.keys(RUN_LOGS).join(", ")}, got ${String(log)}`);
  }
  const file = path.join(runDir, RUN_LOGS[log]);
  if (!existsSync(file)) return [];
  const points: { step: number; value: number }[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      break;
    }
    const { step } = entry;
    const value = entry[metric];
    if (typeof step === "number" && typeof value === "number" && Number.isFinite(value)) points.push({ step, value });
  }
  return points;
}
