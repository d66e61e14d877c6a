import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { emit } from "@revela/bench";
import { initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import { benchmarkRevelaStep } from "../src/revela/revelaStepBenchmark.js";

/**
 * Tokens/s of full Revela training steps at the reference configuration (DESIGN.md), for each
 * in-batch implementation, where a step's time goes, and the PyTorch peer (../shared/peer) in the
 * same run when python3 with torch is installed. JSON lines in the repository's schema.
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

// `dense` materialises [B, B, H, L, L] per layer: at the reference config its step exhausts the
// 4 GiB wasm heap (observed: allocation slows to a crawl), so it only runs with --dense.
const implementations = process.argv.includes("--dense")
  ? (["streaming", "topk", "dense"] as const)
  : (["streaming", "topk"] as const);
const measured = await benchmarkRevelaStep({
  lm,
  retrieverModel,
  batchSize: B,
  seqLen: L,
  implementations: [...implementations],
  steps: 3,
  topK: 2,
  temperature: 1e-4,
  breakdown: true,
});
const results: Record<string, number> = {};
for (const r of measured) {
  results[r.implementation] = r.tokensPerSecond;
  emit({
    bench: "trainer/revela-step",
    case: `reference-${r.implementation}`,
    impl: "revela",
    metric: "tokens_per_s",
    value: Math.round(r.tokensPerSecond),
    unit: "tokens/s",
    params: {
      ...params,
      implementation: r.implementation,
      medianStepMs: Math.round(r.medianStepMs),
      wasmHeapMiB: r.wasmHeapMiB,
      rssMiB: r.rssMiB,
    },
  });
}

// Where a streaming step's time goes: forward pieces timed alone, backward = full step − forward − optimizer.
const streaming = measured.find((r) => r.implementation === "streaming");
if (streaming?.breakdown) {
  const parts = streaming.breakdown;
  for (const [part, ms] of Object.entries({
    retriever: parts.retrieverMs,
    "lm-pass-1 (keys/values only)": parts.pass1Ms,
    "lm-pass-2 without in-batch term (= forward with loss)": parts.pass2WithoutTermMs,
    "in-batch term (forward)": parts.inBatchTermMs,
    backward: parts.backwardMs,
    optimizer: parts.optimizerMs,
  })) {
    emit({
      bench: "trainer/revela-step",
      case: "streaming-breakdown",
      impl: "revela",
      metric: "ms",
      value: Math.round(ms),
      unit: "ms",
      params: { part, share: Number((ms / streaming.medianStepMs).toFixed(3)) },
    });
  }
}

// The PyTorch peer, same machine, same run.
const peer = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../shared/peer/torch_revela_step.py");
const python = "/usr/bin/python3";
if (existsSync(peer) && existsSync(python)) {
  const r = spawnSync(python, [peer], { encoding: "utf8", env: { ...process.env, THREADS: String(report.threads) } });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  if (r.status === 0 && line) {
    const p = JSON.parse(line) as { tokens_per_s: number; step_s: number; peer: string };
    emit({
      bench: "trainer/revela-step",
      case: "reference",
      impl: "pytorch",
      metric: "tokens_per_s",
      value: p.tokens_per_s,
      unit: "tokens/s",
      params: { peer: p.peer, stepS: p.step_s, threads: report.threads },
    });
    for (const impl of implementations) {
      emit({
        bench: "trainer/revela-step",
        case: `reference-${impl}`,
        impl: "revela",
        metric: "speedup",
        value: Number(((results[impl] as number) / p.tokens_per_s).toFixed(2)),
        unit: "x",
        baseline: "pytorch",
      });
    }
  } else {
    emit({
      bench: "trainer/revela-step",
      case: "reference",
      impl: "pytorch",
      metric: "unavailable",
      value: 0,
      unit: "",
      params: { reason: (r.stderr || "no output").split("\n").slice(-2).join(" ") },
    });
  }
} else {
  emit({
    bench: "trainer/revela-step",
    case: "reference",
    impl: "pytorch",
    metric: "unavailable",
    value: 0,
    unit: "",
    params: { reason: `needs ${python} with torch (apt-get install python3-torch) and ${peer}` },
  });
}
