import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchLine, emit } from "@revela/bench";

/**
 * Runs every benchmark of @revela/inbatch-attention, one process per case (a case that exhausts the
 * wasm heap — `dense` materialises B²·H·L² — must not take the others with it; a tfjs backend is
 * process-global), and prints the figures plus comparisons measured in this same run.
 *
 * usage: node .bench/run.js [fwd+bwd|replug]
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const BATCHES = [4, 8, 16, 32];

function run(script: string, args: string[], label: Record<string, unknown>): BenchLine[] {
  const result = spawnSync(process.execPath, [path.join(here, script), ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
    env: process.env,
    timeout: 300_000,
  });
  const lines = (result.stdout ?? "")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as BenchLine);
  if (result.status !== 0) {
    const reason = (result.stderr || String(result.error ?? "")).trim().split("\n").slice(-3).join(" ").slice(0, 300);
    // A failed case is a figure too (e.g. dense out of memory at B = 32), not a crashed run.
    const line: BenchLine = {
      bench: String(label.bench),
      case: String(label.case),
      impl: String(label.impl),
      metric: "failed",
      value: 1,
      unit: "bool",
      params: { exit: result.status, signal: result.signal, error: reason },
    };
    emit(line);
    return [line];
  }
  for (const line of lines) emit(line);
  return lines;
}

const only = process.argv[2];
if (!only || only === "fwd+bwd") {
  const bench = "inbatch-attention/fwd+bwd";
  const lines: BenchLine[] = [];
  for (const b of BATCHES) {
    for (const impl of ["dense", "streaming", "topk"]) {
      const kase = impl === "topk" ? `B${b}-k2` : `B${b}`;
      lines.push(
        ...run("crossAttention.js", ["--impl", impl, "--b", String(b), "--topk", "2"], { bench, case: kase, impl }),
      );
    }
    // As the Revela loss runs it: dL/dW only on W's support, so only W's ≈ B non-zero pairs are computed.
    lines.push(
      ...run("crossAttention.js", ["--impl", "streaming", "--b", String(b), "--weight-gradient", "support"], {
        bench,
        case: `B${b}-support`,
        impl: "streaming",
      }),
    );
    // The worst case for `streaming`: a W without exact zeros (τ = 1), so no pair can be skipped.
    lines.push(
      ...run("crossAttention.js", ["--impl", "streaming", "--b", String(b), "--tau", "1"], {
        bench,
        case: `B${b}-tau1`,
        impl: "streaming",
      }),
    );
  }
  const find = (impl: string, b: number, metric: string, kase = `B${b}`) =>
    lines.find((l) => l.impl === impl && l.case === kase && l.metric === metric);
  for (const b of BATCHES) {
    const dense = find("dense", b, "ms");
    for (const [impl, kase] of [
      ["streaming", `B${b}`],
      ["streaming", `B${b}-tau1`],
      ["topk", `B${b}-k2`],
    ] as const) {
      const ours = find(impl, b, "ms", kase);
      if (dense && ours) {
        emit({
          bench,
          case: kase,
          impl,
          metric: "speedup",
          value: Number((dense.value / ours.value).toFixed(2)),
          unit: "x",
          baseline: "dense",
        });
      }
    }
    const denseMem = find("dense", b, "peak_mib");
    const streamMem = find("streaming", b, "peak_mib");
    if (denseMem && streamMem) {
      emit({
        bench,
        case: `B${b}`,
        impl: "streaming",
        metric: "memory_ratio",
        value: Number((streamMem.value / denseMem.value).toFixed(3)),
        unit: "x",
        baseline: "dense",
      });
    }
  }
  // Twice the chunks: how much longer a step takes (B² pairs: 4×; only W's non-zero pairs: about 2×).
  for (const [impl, suffix] of [
    ["streaming", ""],
    ["streaming", "-support"],
    ["streaming", "-tau1"],
    ["topk", "-k2"],
  ] as const) {
    for (const b of BATCHES.slice(1)) {
      const big = find(impl, b, "ms", `B${b}${suffix}`);
      const small = find(impl, b / 2, "ms", `B${b / 2}${suffix}`);
      if (big && small)
        emit({
          bench,
          case: `B${b}${suffix}`,
          impl,
          metric: "ratio",
          value: Number((big.value / small.value).toFixed(2)),
          unit: "x",
          baseline: `B${b / 2}${suffix}`,
        });
    }
  }
  // Linear growth: peak memory per chunk of the batch should stay about constant for streaming.
  for (const impl of ["dense", "streaming", "topk"]) {
    for (const b of BATCHES) {
      const mem = find(impl, b, "peak_mib", impl === "topk" ? `B${b}-k2` : `B${b}`);
      if (mem)
        emit({
          bench,
          case: mem.case,
          impl,
          metric: "peak_mib_per_chunk",
          value: Number((mem.value / b).toFixed(2)),
          unit: "MiB",
        });
    }
  }
}
if (!only || only === "replug") {
  for (const b of BATCHES) {
    run("replug.js", ["--b", String(b)], {
      bench: "inbatch-attention/replug-vs-revela",
      case: `B${b}`,
      impl: "replug",
    });
  }
}
