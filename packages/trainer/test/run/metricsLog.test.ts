import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MetricsLog, RUN_LOGS, readMetricSeries } from "../../src/run/metricsLog.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "revela-metrics-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const { time, ...rest } = JSON.parse(l) as Record<string, unknown>;
      expect(typeof time).toBe("string");
      return rest;
    });

describe("MetricsLog", () => {
  it("appends one JSON line per step, with non-finite values as null", () => {
    const file = path.join(dir, "a", "metrics.jsonl");
    const log = new MetricsLog(file);
    log.append(1, { loss: 2.5, lr: 1e-4 });
    log.append(2, { loss: Number.NaN });
    log.close();
    expect(lines(file)).toEqual([
      { step: 1, loss: 2.5, lr: 1e-4 },
      { step: 2, loss: null },
    ]);
  });

  it("on resume keeps the steps up to the checkpoint and drops the rest, torn last line included", () => {
    const file = path.join(dir, "b.jsonl");
    const log = new MetricsLog(file);
    for (let s = 1; s <= 5; s++) log.append(s, { loss: s });
    log.close();
    appendFileSync(file, '{"step": 6, "lo');
    const resumed = new MetricsLog(file, { fromStep: 3 });
    expect(() => resumed.append(3, { loss: 0 })).toThrow(/step must be an integer after 3, got 3/);
    resumed.append(4, { loss: 40 });
    resumed.close();
    expect(lines(file)).toEqual([
      { step: 1, loss: 1 },
      { step: 2, loss: 2 },
      { step: 3, loss: 3 },
      { step: 4, loss: 40 },
    ]);
    new MetricsLog(file).close();
    expect(readFileSync(file, "utf8")).toBe("");
  });

  it("names bad metrics", () => {
    const log = new MetricsLog(path.join(dir, "c.jsonl"));
    expect(() => log.append(1, { loss: "x" as unknown as number })).toThrow(
      /metric "loss" must be a number, got string/,
    );
    expect(() => log.append(1, { time: 1 })).toThrow(/metric name "time" is reserved/);
    log.close();
    expect(() => log.append(1, { loss: 1 })).toThrow(/has been closed/);
  });

  it("reads one metric of a run's log back as points by step, skipping nulls, stopping at a torn line", () => {
    const runDir = path.join(dir, "run");
    const log = new MetricsLog(path.join(runDir, RUN_LOGS.metrics));
    log.append(1, { loss: 3, lr: 1 });
    log.append(2, { loss: Number.NaN, lr: 2 });
    log.append(3, { loss: 1, lr: 3 });
    log.close();
    appendFileSync(path.join(runDir, RUN_LOGS.metrics), '{"step": 4, "lo');
    expect(readMetricSeries(runDir, "loss")).toEqual([
      { step: 1, value: 3 },
      { step: 3, value: 1 },
    ]);
    expect(readMetricSeries(runDir, "ndcg10", "evals")).toEqual([]);
    expect(() => readMetricSeries(runDir, "loss", "steps" as "evals")).toThrow(
      /readMetricSeries: log must be one of metrics, evals, got steps/,
    );
  });
});
