import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchLine, emit } from "@revela/bench";

/**
 * Runs every benchmark of @revela/kernels, each implementation in its own process (a tfjs backend
 * cannot be reconfigured once started), and prints the figures plus speedup lines against the
 * baselines measured in this same run.
 */
const here = path.dirname(fileURLToPath(import.meta.url));

function run(script: string, impl: string): BenchLine[] {
  const result = spawnSync(process.execPath, [path.join(here, script), "--impl", impl], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
    env: process.env,
  });
  if (result.status !== 0) {
    throw new Error(`bench ${script} --impl ${impl} failed (exit ${result.status}):\n${result.stderr}`);
  }
  const lines = result.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as BenchLine);
  for (const line of lines) emit(line);
  return lines;
}

function speedups(lines: BenchLine[], metric: string, higherIsBetter: boolean, baselines: string[]): void {
  for (const ours of lines.filter((l) => l.impl === "revela" && l.metric === metric)) {
    for (const baseline of baselines) {
      const other = lines.find((l) => l.impl === baseline && l.case === ours.case && l.metric === metric);
      if (!other) continue;
      emit({
        bench: ours.bench,
        case: ours.case,
        impl: "revela",
        metric: "speedup",
        value: Number((higherIsBetter ? ours.value / other.value : other.value / ours.value).toFixed(2)),
        unit: "x",
        baseline,
      });
    }
  }
}

const only = process.argv[2];
if (!only || only === "matmul") {
  const lines = [...run("matmul.js", "revela"), ...run("matmul.js", "tfjs-wasm"), ...run("matmul.js", "tfjs-cpu")];
  speedups(lines, "gflops", true, ["tfjs-wasm", "tfjs-cpu"]);
}
if (!only || only === "block") {
  const lines = [...run("block.js", "revela"), ...run("block.js", "tfjs-wasm")];
  speedups(lines, "ms", false, ["tfjs-wasm"]);
}
