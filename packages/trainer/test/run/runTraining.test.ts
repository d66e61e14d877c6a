import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { initBackend } from "@revela/kernels";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsecutiveBatcher } from "../../src/data/consecutiveBatcher.js";
import { CheckpointStore } from "../../src/run/checkpointStore.js";
import { type RunTrainingOptions, runTraining } from "../../src/run/runTraining.js";
import type { StepMetrics } from "../../src/run/trainable.js";
import { regressionChunks, type ToyOptions, ToyRegression } from "./toyRegression.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});
const root = mkdtempSync(path.join(os.tmpdir(), "revela-run-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newRunDir = () => path.join(root, `run${n++}`);

const chunks = regressionChunks();
const config = { seed: 7, optim: { lr: 0.05 } };

/** Collects progress output so tests stay quiet; plain mode. */
function quiet(): { stream: Writable; tty: false; text: () => string } {
  const parts: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      parts.push(String(chunk));
      done();
    },
  });
  return { stream, tty: false, text: () => parts.join("") };
}

/** A fresh toy trainer and batcher — as a new process would build them — run over runDir. */
async function train(runDir: string, options: Partial<RunTrainingOptions> & { toy?: ToyOptions } = {}) {
  const trainer = new ToyRegression(options.toy);
  const batches = new ConsecutiveBatcher(chunks, { batchSize: 4, seed: 7 });
  try {
    const result = await runTraining({
      runDir,
      config,
      trainer,
      batches,
      steps: 20,
      checkpointEvery: 4,
      progress: quiet(),
      ...options,
    });
    return { result, weights: trainer.weights(), adam: trainer.optimizer.exportState(), batcher: batches.state() };
  } finally {
    trainer.dispose();
  }
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");

function metricLines(runDir: string): Record<string, unknown>[] {
  return readFileSync(path.join(runDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { time: _time, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

describe("runTraining", () => {
  it("N steps, resume, N more steps gives bit-identical weights, optimizer state and metrics to 2N steps", async () => {
    const straightDir = newRunDir();
    const straight = await train(straightDir, { steps: 14 });
    expect(straight.result).toMatchObject({ step: 14, reason: "steps", stepsThisRun: 14 });

    const splitDir = newRunDir();
    // 7 is not a multiple of checkpointEvery: the final checkpoint at 7 is what resumes.
    const first = await train(splitDir, { steps: 7 });
    expect(first.result.step).toBe(7);
    expect(bits(first.weights)).not.toBe(bits(straight.weights));
    const second = await train(splitDir, { steps: 14, resume: "latest" });
    expect(second.result).toMatchObject({ step: 14, reason: "steps", stepsThisRun: 7 });
    expect(bits(second.weights)).toBe(bits(straight.weights));
    for (const [name, record] of Object.entries(straight.adam.tensors)) {
      expect(bits(second.adam.tensors[name]!.data), name).toBe(bits(record.data));
    }
    expect(second.adam.state).toEqual(straight.adam.state);
    expect(second.batcher).toEqual(straight.batcher);
    expect(metricLines(splitDir)).toEqual(metricLines(straightDir));
    expect(metricLines(splitDir).map((l) => l.step)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(JSON.parse(readFileSync(path.join(splitDir, "config.json"), "utf8"))).toEqual(config);
    // Retention: the newest three of 4, 7, 8, 12, 14.
    expect(await new CheckpointStore(splitDir).steps()).toEqual([8, 12, 14]);
  });

  it("after a crash, resumes from the last checkpoint and rewrites the metrics lines past it", async () => {
    const straightDir = newRunDir();
    const straight = await train(straightDir, { steps: 12 });
    const crashDir = newRunDir();
    await expect(
      train(crashDir, {
        steps: 12,
        toy: {
          onStep: (t) => {
            if (t === 7) throw new Error("power cut");
          },
        },
      }),
    ).rejects.toThrow(/power cut/);
    expect(metricLines(crashDir).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await new CheckpointStore(crashDir).steps()).toEqual([4]);
    const resumed = await train(crashDir, { steps: 12, resume: "latest" });
    expect(resumed.result.stepsThisRun).toBe(8);
    expect(bits(resumed.weights)).toBe(bits(straight.weights));
    expect(metricLines(crashDir)).toEqual(metricLines(straightDir));
  });

  it("stops on a NaN loss, leaving a checkpoint of the last good state (kept in memory) and a clear message", async () => {
    const cleanDir = newRunDir();
    const clean = await train(cleanDir, { steps: 6 });
    const runDir = newRunDir();
    const progress = quiet();
    const { result } = await train(runDir, { steps: 20, toy: { poisonAtStep: 7 }, progress });
    expect(result.reason).toBe("non-finite");
    expect(result.step).toBe(6);
    expect(result.message).toMatch(
      /stopped: loss is NaN at step 7; the last good state is checkpoint step 6 \(.*step-00000006\)/,
    );
    expect(progress.text()).toContain(result.message);
    const store = new CheckpointStore(runDir);
    expect(await store.steps()).toEqual([4, 6]);
    const saved = await store.load(6);
    expect(saved.state.reason).toBe("last-good");
    const savedWeights = Float32Array.from([...saved.tensors["model/w"]!.data, ...saved.tensors["model/b"]!.data]);
    expect(bits(savedWeights)).toBe(bits(clean.weights));
    expect(metricLines(runDir).at(-1)).toMatchObject({ step: 7, loss: null });
    // Resuming from it continues as a clean run would.
    const resumed = await train(runDir, { steps: 8, resume: "latest" });
    const cleanTo8 = await train(newRunDir(), { steps: 8 });
    expect(bits(resumed.weights)).toBe(bits(cleanTo8.weights));
    expect(metricLines(runDir).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("with lastGoodState 'checkpoint', falls back to the last periodic checkpoint on a NaN loss", async () => {
    const runDir = newRunDir();
    const { result } = await train(runDir, { steps: 20, toy: { poisonAtStep: 7 }, lastGoodState: "checkpoint" });
    expect(result).toMatchObject({ reason: "non-finite", step: 6 });
    expect(result.message).toMatch(/last good state is checkpoint step 4/);
    expect(await new CheckpointStore(runDir).steps()).toEqual([4]);
  });

  it("on SIGINT finishes the step, saves a checkpoint, returns, and removes its listener", async () => {
    const listeners = process.listenerCount("SIGINT");
    const runDir = newRunDir();
    const { result } = await train(runDir, {
      steps: 20,
      toy: { onStep: (t) => t === 5 && process.emit("SIGINT", "SIGINT") },
    });
    expect(result).toMatchObject({ reason: "interrupted", step: 5 });
    expect(process.listenerCount("SIGINT")).toBe(listeners);
    expect(await new CheckpointStore(runDir).steps()).toEqual([4, 5]);
    const resumed = await train(runDir, { steps: 9, resume: "latest" });
    const straight = await train(newRunDir(), { steps: 9 });
    expect(bits(resumed.weights)).toBe(bits(straight.weights));
  });

  it("handles a Ctrl-C that arrives as an event-loop task (a real signal) between steps, not at the next checkpoint", async () => {
    // A step resolves through promises alone; a signal, like this event-loop task, waits for the
    // event loop. It is sent once runTraining listens (its set-up awaits file I/O, so a fixed timer
    // could fire before the listener exists and the signal would be lost).
    const listeners = process.listenerCount("SIGINT");
    let pending: NodeJS.Immediate | undefined;
    const sendWhenListening = () => {
      if (process.listenerCount("SIGINT") > listeners) process.emit("SIGINT", "SIGINT");
      else pending = setImmediate(sendWhenListening);
    };
    pending = setImmediate(sendWhenListening);
    try {
      const { result } = await train(newRunDir(), { steps: 2000, checkpointEvery: 1000 });
      expect(result.reason).toBe("interrupted");
      expect(result.step).toBeLessThan(1000);
    } finally {
      clearImmediate(pending);
    }
  });

  it("stops at the time budget with a checkpoint (injected clock)", async () => {
    const runDir = newRunDir();
    let t = 0;
    const { result } = await train(runDir, {
      steps: 20,
      maxMinutes: 2.5,
      now: () => {
        t += 60_000;
        return t;
      },
    });
    expect(result).toMatchObject({ reason: "time", step: 2 });
    expect(await new CheckpointStore(runDir).steps()).toEqual([2]);
  });

  it("also checkpoints by time: after any step that ends checkpointMinutes after the last checkpoint (injected clock)", async () => {
    const runDir = newRunDir();
    let t = 0;
    const batcher = new ConsecutiveBatcher(chunks, { batchSize: 4, seed: 7 });
    // Each batch drawn is a step taking 40 s of the injected clock.
    const batches = {
      next: () => {
        t += 40_000;
        return batcher.next();
      },
      state: () => batcher.state(),
      restore: (s: Parameters<typeof batcher.restore>[0]) => batcher.restore(s),
    };
    const trainer = new ToyRegression();
    try {
      await runTraining({
        runDir,
        config,
        trainer,
        batches,
        steps: 10,
        checkpointEvery: 100,
        checkpointMinutes: 2,
        keepCheckpoints: Number.POSITIVE_INFINITY,
        progress: quiet(),
        now: () => t,
      });
    } finally {
      trainer.dispose();
    }
    expect(await new CheckpointStore(runDir).steps()).toEqual([3, 6, 9, 10]);
    await expect(train(newRunDir(), { checkpointMinutes: 0 })).rejects.toThrow(
      /checkpointMinutes must be a positive number, got 0/,
    );
  });

  it("refuses to start over a run with checkpoints unless resuming, and notes config changes on resume", async () => {
    const runDir = newRunDir();
    await train(runDir, { steps: 4 });
    await expect(train(runDir, { steps: 8 })).rejects.toThrow(
      /already has checkpoints \(latest step 4\); pass resume: "latest"/,
    );
    const progress = quiet();
    await train(runDir, { steps: 5, resume: "latest", config: { seed: 8, optim: { lr: 0.05 } }, progress });
    expect(progress.text()).toContain("config changed since the run started: seed: 7 → 8");
    const done = await train(runDir, { steps: 5, resume: "latest" });
    expect(done.result).toMatchObject({ reason: "steps", step: 5, stepsThisRun: 0 });
    expect(readdirSync(path.join(runDir, "checkpoints"))).toEqual(["step-00000004", "step-00000005"]);
  });

  it("evaluates before training, every evaluateEvery steps and at the stop, into evals.jsonl; a resume continues the curve", async () => {
    const runDir = newRunDir();
    const seen: number[] = [];
    const evaluate = async (step: number) => {
      seen.push(step);
      return { score: step / 10 };
    };
    await train(runDir, { steps: 7, evaluate, evaluateEvery: 3 });
    expect(seen).toEqual([0, 3, 6, 7]);
    await train(runDir, { steps: 12, evaluate, evaluateEvery: 3, resume: "latest" });
    expect(seen).toEqual([0, 3, 6, 7, 9, 12]);
    const lines = readFileSync(path.join(runDir, "evals.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.step, l.score])).toEqual([
      [0, 0],
      [3, 0.3],
      [6, 0.6],
      [7, 0.7],
      [9, 0.9],
      [12, 1.2],
    ]);
    await expect(train(newRunDir(), { steps: 2, evaluate, evaluateEvery: 0 })).rejects.toThrow(
      /evaluateEvery must be a positive integer, got 0/,
    );
  });

  it("validates its options", async () => {
    const runDir = newRunDir();
    await expect(train(runDir, { steps: 0 })).rejects.toThrow(/steps must be a positive integer, got 0/);
    await expect(train(runDir, { checkpointEvery: 1.5 })).rejects.toThrow(/checkpointEvery must be a positive integer/);
    await expect(train(runDir, { resume: "yes" as "latest" })).rejects.toThrow(/resume must be "latest" or false/);
    await expect(train(runDir, { trainer: {} as ToyRegression })).rejects.toThrow(/trainer must implement step\(\)/);
    const bad = {
      step: async () => ({ loss: "x" }) as unknown as StepMetrics,
      exportState: async () => ({ tensors: {}, state: {} }),
      importState: async () => {},
    };
    await expect(
      runTraining({
        runDir,
        config,
        trainer: bad,
        batches: new ConsecutiveBatcher(chunks),
        steps: 2,
        progress: quiet(),
      }),
    ).rejects.toThrow(/trainer\.step at step 1 must resolve to \{loss: number, \.\.\.\}, got \{"loss":"x"\}/);
  });
});
