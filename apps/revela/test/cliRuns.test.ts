import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PipelineResult } from "../src/pipeline/pipelineResult.js";

/**
 * The real `revela` executable (dist/cli.js, built from these sources first) on a small corpus with
 * the smallest settings it allows, so that a whole run takes seconds: the same seed gives the same
 * weights and metrics, and a run killed with SIGKILL at any moment and resumed with --resume ends
 * exactly as an uninterrupted one.
 */

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(appDir, "dist", "cli.js");
const tmp = mkdtempSync(path.join(tmpdir(), "revela-cli-runs-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ANIMALS = [
  "cats",
  "dogs",
  "fish",
  "birds",
  "horses",
  "cows",
  "goats",
  "sheep",
  "bees",
  "ants",
  "wolves",
  "foxes",
];
const data = path.join(tmp, "data");
const smallConfig = path.join(tmp, "small.json");

beforeAll(() => {
  execFileSync("npx", ["tsup", "--silent"], { cwd: appDir, stdio: "pipe" });
  mkdirSync(path.join(data, "qrels"), { recursive: true });
  const docs = ANIMALS.flatMap((a, i) => [
    { _id: `d${2 * i}`, title: a, text: `${a} live on the farm and eat grass in the morning while the farmer sleeps` },
    { _id: `d${2 * i + 1}`, title: a, text: `some say ${a} are clever animals, others that they sleep all day long` },
  ]);
  writeFileSync(path.join(data, "corpus.jsonl"), `${docs.map((d) => JSON.stringify(d)).join("\n")}\n`);
  const queries = ANIMALS.map((a, i) => JSON.stringify({ _id: `q${i}`, text: `which ${a} eat grass` }));
  writeFileSync(path.join(data, "queries.jsonl"), `${queries.join("\n")}\n`);
  const qrels = ANIMALS.map((_, i) => `q${i}\td${2 * i}\t1`);
  writeFileSync(path.join(data, "qrels", "test.tsv"), `query-id\tcorpus-id\tscore\n${qrels.join("\n")}\n`);
  // A large budget, so that the step caps stop every phase: a time-bound run cannot repeat itself.
  writeFileSync(
    smallConfig,
    JSON.stringify({
      minutes: 60,
      model: { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, ffn: 32, minTokenCount: 1 },
      train: { steps: 8, batchSize: 4, maxLmTokens: 32, maxRetrieverTokens: 32, warmupSteps: 1, checkpointEvery: 2 },
      eval: { maxDocTokens: 32, curveEvery: 0 },
    }),
  );
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs `revela train <args>`; kills it with SIGKILL as soon as `killWhen` (polled) holds. */
function revela(args: string[], killWhen?: () => boolean): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [cli, "train", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr += String(d);
    });
    const poll = killWhen
      ? setInterval(() => {
          if (killWhen()) {
            child.kill("SIGKILL");
            clearInterval(poll);
          }
        }, 5)
      : undefined;
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (poll) clearInterval(poll);
      resolve({ code, signal, stderr });
    });
  });
}

const checkpoint = (out: string, phase: string, step: number) =>
  existsSync(path.join(out, "runs", phase, "checkpoints", `step-${String(step).padStart(8, "0")}`));

async function train(out: string, ...extra: string[]): Promise<Exit> {
  const run = await revela(["--config", smallConfig, "--data", data, "--out", out, ...extra]);
  expect(
    run.stderr.split("\n").filter((l) => l.startsWith("revela:")),
    run.stderr,
  ).toEqual([]);
  expect(run.code).toBe(0);
  return run;
}

/** What a run computed: result rows, loss curves, every step's metrics but timings, and the retriever's bytes. */
function outcome(out: string) {
  const result = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as PipelineResult;
  const metrics = Object.fromEntries(
    readdirSync(path.join(out, "runs")).map((phase) => [
      phase,
      readFileSync(path.join(out, "runs", phase, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => {
          const { time: _time, tokensPerSecond: _speed, ...figures } = JSON.parse(line) as Record<string, unknown>;
          return figures;
        }),
    ]),
  );
  return {
    rows: result.rows,
    lossCurves: result.lossCurves,
    weights: result.weights,
    metrics,
    retriever: readFileSync(path.join(out, "retriever", "model.safetensors")).toString("base64"),
  };
}

describe("revela train, the real CLI on a small corpus", () => {
  const first = path.join(tmp, "seed0-a");

  it("the same seed (0) gives identical weights and metrics; another seed differs", async () => {
    const second = path.join(tmp, "seed0-b");
    const other = path.join(tmp, "seed1");
    await train(first, "--seed", "0");
    await train(second, "--seed", "0");
    await train(other, "--seed", "1");
    const a = outcome(first);
    expect(a.metrics.revela).toHaveLength(8);
    expect(outcome(second)).toEqual(a);
    const b = outcome(other);
    expect(b.retriever).not.toBe(a.retriever);
    expect(b.metrics["lm-warmup"]?.[0]).not.toEqual(a.metrics["lm-warmup"]?.[0]);
    expect(b.lossCurves).not.toEqual(a.lossCurves);
  }, 300_000);

  it("killed with SIGKILL in each phase and resumed with --resume, ends exactly as an uninterrupted run", async () => {
    const out = path.join(tmp, "killed");
    const args = ["--config", smallConfig, "--data", data, "--out", out, "--seed", "0"];
    const kills: [string, number][] = [
      ["lm-warmup", 2],
      ["revela", 4],
      ["contrastive", 2],
    ];
    for (const [i, [phase, step]] of kills.entries()) {
      const run = await revela(i === 0 ? args : ["--out", out, "--resume"], () => checkpoint(out, phase, step));
      expect(run.signal, run.stderr).toBe("SIGKILL");
      // What a killed run keeps: its state and the newest checkpoint of the phase it was in.
      expect(existsSync(path.join(out, "run-state.json"))).toBe(true);
      expect(readdirSync(path.join(out, "runs", phase, "checkpoints")).length).toBeGreaterThan(0);
      // A new run never deletes it unasked.
      if (i === 0) {
        const refused = await revela(args);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/holds a previous run \(.*runs.*\): continue it with --resume/);
        expect(checkpoint(out, phase, step)).toBe(true);
      }
    }
    const last = await revela(["--out", out, "--resume"]);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stderr).toMatch(/lm-warmup: finished in an earlier run/);
    expect(last.stderr).toMatch(/revela: finished in an earlier run/);
    expect(last.stderr).toMatch(/training: step \d\/8 \(resumed\)/);
    expect(outcome(out)).toEqual(outcome(first));
    // A resume may not change what the run computes.
    const changed = await revela(["--out", out, "--resume", "--steps", "9"]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/--steps 9: --resume continues the run in .* where train\.steps is 8/);
  }, 300_000);
});
