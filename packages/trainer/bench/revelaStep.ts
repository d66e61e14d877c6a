import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { emit } from "@revela/bench";
import { initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import {
  benchmarkRevelaStep,
  byKernelName,
  type KernelRow,
  measureDispatchMicros,
  measureSgemm,
  profileRevelaStep,
  type StepImplementation,
} from "./revelaStepBenchmark.js";

/**
 * Full Revela training steps (`RevelaTrainer.step`) at the reference configuration (DESIGN.md), per
 * in-batch implementation: every step's time with the pairs the in-batch term computed, W's zeros,
 * heap growth and GC; min / median / max; a per-kernel profile of the backward pass; the step's matmul
 * FLOPs and their rate against the machine's sgemm (wasm XNNPACK and PyTorch's OpenBLAS, measured in
 * this run); the PyTorch peer (../shared/peer) in the same run when python3 with torch is installed.
 * JSON lines in the repository's schema. `--dense` adds `dense`; `--steps N` (default 5).
 */
const V = 8192;
const B = 16;
const L = 128;
const cfg = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: V,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  max_position_embeddings: L,
};
const BENCH = "trainer/revela-step";
const argAt = process.argv.indexOf("--steps");
const STEPS = argAt >= 0 ? Number(process.argv[argAt + 1]) : 5;

const report = await initBackend();
const lm = CausalLM.create(cfg, { seed: 0 });
const retrieverModel = CausalLM.create(cfg, { seed: 1, backbone: true });
const params = {
  vocab: V,
  d: 256,
  layers: 4,
  heads: 8,
  kvHeads: 4,
  ffn: 688,
  seq: L,
  batch: B,
  tau: 1e-4,
  backend: report.backend,
  threads: report.threads,
};
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

// The machine's plain-product rate on this backend, now (the machine is shared: rates drift), and the
// cost of one small product's multi-threaded dispatch, which tells how much other processes hold the
// cores; both again at the end of the run.
const probeMachine = (when: string) => {
  const gflops = measureSgemm(1024, 7);
  const params = { when };
  emit({
    bench: BENCH,
    case: "sgemm-1024",
    impl: "revela",
    metric: "gflops",
    value: round(gflops),
    unit: "GFLOP/s",
    params,
  });
  const micros = measureDispatchMicros(256, 9);
  emit({
    bench: BENCH,
    case: "dispatch-256x8x8x8",
    impl: "revela",
    metric: "us_per_product",
    value: round(micros),
    unit: "µs",
    params,
  });
  return gflops;
};
const sgemm = probeMachine("start");

// `dense` materialises [B, B, H, L, L] per layer: at the reference config its step exhausts the
// 4 GiB wasm heap (observed: allocation slows to a crawl), so it only runs with --dense.
const implementations: StepImplementation[] = process.argv.includes("--dense")
  ? ["streaming", "topk", "dense"]
  : ["streaming", "topk"];
const base = { lm, retrieverModel, batchSize: B, seqLen: L, topK: 2, temperature: 1e-4 };
const measured = await benchmarkRevelaStep({ ...base, implementations, steps: STEPS });
const tokensPerSecond: Record<string, number> = {};
for (const r of measured) {
  const name = `reference-${r.implementation}`;
  tokensPerSecond[r.implementation] = r.tokensPerSecond;
  for (const s of r.samples) {
    emit({
      bench: BENCH,
      case: name,
      impl: "revela",
      metric: "step_ms",
      value: Math.round(s.ms),
      unit: "ms",
      params: {
        step: s.step,
        cpuMs: Math.round(s.cpuMs),
        pairsPerLayer: s.pairs,
        nonZeroWeights: s.nonZeroWeights,
        ofWeights: B * (B - 1),
        heapGrowthMiB: s.heapGrowthMiB === null ? null : round(s.heapGrowthMiB),
        gcMs: round(s.gcMs),
        tensorsLeaked: s.tensorsLeaked,
        loss: round(s.loss, 4),
      },
    });
  }
  emit({
    bench: BENCH,
    case: name,
    impl: "revela",
    metric: "tokens_per_s",
    value: Math.round(r.tokensPerSecond),
    unit: "tokens/s",
    params: {
      ...params,
      implementation: r.implementation,
      steps: r.samples.length,
      minStepMs: Math.round(r.minStepMs),
      medianStepMs: Math.round(r.medianStepMs),
      maxStepMs: Math.round(r.maxStepMs),
      wasmHeapMiB: r.wasmHeapMiB,
      rssMiB: r.rssMiB,
    },
  });
  const cpu = r.samples.map((s) => s.cpuMs);
  emit({
    bench: BENCH,
    case: name,
    impl: "revela",
    metric: "spread",
    value: round(r.maxStepMs / r.minStepMs, 2),
    unit: "max/min",
    // The same for CPU time: steady CPU under swinging wall time means other processes took the cores.
    params: { cpuSpread: round(Math.max(...cpu) / Math.min(...cpu), 2) },
  });
}

// Where the time goes: per kernel, one profiled pass; the step's matmul FLOPs from the kernels' shapes.
const stepGflop: Record<string, number> = {};
for (const implementation of implementations.filter((x) => x !== "dense")) {
  const profile = await profileRevelaStep(base, implementation);
  const total = (rows: KernelRow[]) => rows.reduce((s, r) => s + r.ms, 0);
  stepGflop[implementation] = profile.forwardBackward.reduce((s, r) => s + r.gflop, 0);
  // By kernel name (the matmul shapes summed), and the backward's matmuls by shape.
  for (const [part, rows] of [
    ["forward", byKernelName(profile.forward)],
    ["backward", byKernelName(profile.backward)],
    ["backward-matmul", profile.backward.filter((r) => r.gflop > 0)],
  ] as const) {
    const all = total(rows);
    const shown = rows.slice(0, 10);
    const rest = rows.slice(10);
    if (rest.length > 0)
      shown.push({
        kernel: `${rest.length} others`,
        calls: rest.reduce((s, r) => s + r.calls, 0),
        ms: total(rest),
        gflop: rest.reduce((s, r) => s + r.gflop, 0),
        products: rest.reduce((s, r) => s + r.products, 0),
      });
    for (const r of shown) {
      emit({
        bench: "trainer/revela-step-profile",
        case: `reference-${implementation}-${part}`,
        impl: "revela",
        metric: "ms",
        value: Math.round(r.ms),
        unit: "ms",
        params: {
          kernel: r.kernel,
          calls: r.calls,
          share: round(r.ms / all, 3),
          gflop: round(r.gflop, 2),
          ...(r.gflop > 0 ? { gflops: round(r.gflop / (r.ms / 1000)), products: r.products } : {}),
        },
      });
    }
    emit({
      bench: "trainer/revela-step-profile",
      case: `reference-${implementation}-${part}`,
      impl: "revela",
      metric: "total_ms",
      value: Math.round(all),
      unit: "ms",
      params: {
        kernels: rows.reduce((s, r) => s + r.calls, 0),
        gflop: round(
          rows.reduce((s, r) => s + r.gflop, 0),
          2,
        ),
      },
    });
  }
}

probeMachine("end");

// The PyTorch peer and its BLAS, same machine, same run.
const peer = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../shared/peer/torch_revela_step.py");
const python = "/usr/bin/python3";
const unavailable = (reason: string) =>
  emit({
    bench: BENCH,
    case: "reference",
    impl: "pytorch",
    metric: "unavailable",
    value: 0,
    unit: "",
    params: { reason },
  });
let peakGflops = sgemm;
let peakName = "revela-sgemm";
if (existsSync(peer) && existsSync(python)) {
  const env = { ...process.env, THREADS: String(report.threads) };
  const blas = spawnSync(
    python,
    [
      "-c",
      `import torch, time, statistics
torch.set_num_threads(${report.threads})
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
a @ b
ts = []
for _ in range(7):
    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
print(2 * 1024 ** 3 / statistics.median(ts) / 1e9)`,
    ],
    { encoding: "utf8", env },
  );
  const torchSgemm = Number(blas.stdout.trim());
  if (blas.status === 0 && Number.isFinite(torchSgemm)) {
    emit({
      bench: BENCH,
      case: "sgemm-1024",
      impl: "pytorch",
      metric: "gflops",
      value: round(torchSgemm),
      unit: "GFLOP/s",
    });
    if (torchSgemm > peakGflops) [peakGflops, peakName] = [torchSgemm, "pytorch-sgemm"];
  }
  // glibc hands each large tensor back to the kernel and faults it in again on the next step: on
  // these machines that was 2 M page faults and ~70 % of the peer's step. Run the peer as shipped and
  // with glibc keeping its heap (no mmap for large blocks, no trimming), and compare against the faster.
  const allocators = [
    { allocator: "glibc-default", env: {}, args: ["steps=3", "warmup=1"] },
    {
      allocator: "glibc-retained-heap",
      env: { MALLOC_MMAP_MAX_: "0", MALLOC_TRIM_THRESHOLD_: String(2 ** 36), MALLOC_TOP_PAD_: String(2 ** 30) },
      args: [],
    },
  ];
  let best: { tokens_per_s: number; allocator: string } | null = null;
  for (const a of allocators) {
    const r = spawnSync(python, [peer, ...a.args], { encoding: "utf8", env: { ...env, ...a.env } });
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    if (r.status !== 0 || !line) {
      unavailable(`${a.allocator}: ${(r.stderr || "no output").split("\n").slice(-2).join(" ")}`);
      continue;
    }
    const p = JSON.parse(line) as { tokens_per_s: number; step_s: number; peer: string };
    emit({
      bench: BENCH,
      case: "reference",
      impl: "pytorch",
      metric: "tokens_per_s",
      value: p.tokens_per_s,
      unit: "tokens/s",
      params: { peer: p.peer, stepS: p.step_s, threads: report.threads, allocator: a.allocator },
    });
    if (best === null || p.tokens_per_s > best.tokens_per_s)
      best = { tokens_per_s: p.tokens_per_s, allocator: a.allocator };
  }
  if (best !== null) {
    for (const impl of implementations) {
      emit({
        bench: BENCH,
        case: `reference-${impl}`,
        impl: "revela",
        metric: "speedup",
        value: round((tokensPerSecond[impl] as number) / best.tokens_per_s, 2),
        unit: "x",
        baseline: "pytorch",
        params: { allocator: best.allocator },
      });
    }
  }
} else unavailable(`needs ${python} with torch (apt-get install python3-torch) and ${peer}`);

// The step's share of the machine's peak: its matmul FLOPs over its median time, against the faster sgemm.
for (const r of measured) {
  const gflop = stepGflop[r.implementation];
  if (gflop === undefined) continue;
  const achieved = gflop / (r.medianStepMs / 1000);
  emit({
    bench: BENCH,
    case: `reference-${r.implementation}`,
    impl: "revela",
    metric: "gflops",
    value: round(achieved),
    unit: "GFLOP/s",
    params: { stepGflop: round(gflop, 2), medianStepMs: Math.round(r.medianStepMs) },
  });
  emit({
    bench: BENCH,
    case: `reference-${r.implementation}`,
    impl: "revela",
    metric: "ratio",
    value: round(achieved / peakGflops, 3),
    unit: "of peak",
    baseline: peakName,
  });
}
