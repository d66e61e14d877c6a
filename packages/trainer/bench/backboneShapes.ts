import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { emit } from "@revela/bench";
import { formatBytes, initBackend, WASM_MAX_HEAP_BYTES } from "@revela/kernels";
import {
  CausalLM,
  enableLora,
  estimateRunMemory,
  type LoraConfig,
  loadPretrained,
  parseLoraConfig,
  type RunMemoryShape,
} from "@revela/language-model";
import { benchmarkRevelaStep, measureSgemm } from "./revelaStepBenchmark.js";

/**
 * Revela steps at the published backbone shapes the paper trains from, as `revela train --model` runs
 * them: LoRA on the 7 projections of both models (alpha 64, dropout 0.1), the retriever on the LM's
 * frozen base, each layer recomputed in backward, AdamW with its state in JavaScript memory. Random
 * weights of each shape are written at bench time into a temporary folder by
 * ../shared/tools/make_random_hf.py (python3 + numpy); the ids are synthetic (a step's cost does not
 * depend on them).
 *
 * Off by default — a step takes minutes on a 2-core machine. `REVELA_BENCH_BACKBONES=1` turns it on;
 * `REVELA_BENCH_BACKBONE_SHAPES` (comma-separated, default `smollm2-135m,qwen2.5-0.5b`),
 * `REVELA_BENCH_BACKBONE_STEPS` (timed steps after one warm-up step, default 1),
 * `REVELA_BENCH_BACKBONE_LAYERS` (cut each shape to N layers, for a quick check of the bench itself)
 * and `REVELA_MAKE_RANDOM_HF` (the generator's path) adjust it.
 *
 * The paper's setting is LoRA r 256 at B 16 × L 156. Where `estimateRunMemory` says that does not fit
 * the 4 GiB wasm heap, the bench takes the largest rank that fits at B 16, else the largest rank that
 * fits at B 4, and says so in the line's params (`paperFits`, `estimateAtPaper`).
 */
const BENCH = "trainer/backbone-shapes";
const SHAPES: Record<string, { vocab?: number; note: string }> = {
  // SmolLM2's own tokenizer is not on npm: its shape runs with the Llama-2 tokenizer's 32,000 ids.
  "smollm2-135m": { vocab: 32000, note: "vocab 32,000 (Llama-2 tokenizer)" },
  "qwen2.5-0.5b": { note: "vocab 151,936 (Qwen tokenizer)" },
};
const PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
const SEQ = 156;

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

function lora(r: number): LoraConfig {
  return parseLoraConfig(
    { r, lora_alpha: 64, lora_dropout: 0.1, target_modules: PROJECTIONS },
    "bench/backboneShapes.ts",
  );
}

function planFor(r: number, batch: number): RunMemoryShape {
  return {
    lora: lora(r),
    sharedBase: true,
    train: { batch, lmTokens: SEQ, retrieverTokens: SEQ, recompute: true },
    encode: null,
  };
}

/** The paper's r 256 at B 16 if it fits, else the largest rank at B 16, else the largest at B 4. */
function choosePlan(config: CausalLM["config"]): { r: number; batch: number; paperBytes: number } | null {
  const paperBytes = estimateRunMemory(config, planFor(256, 16)).peakBytes;
  for (const batch of [16, 4]) {
    for (let r = 256; r >= 1; r = r > 8 ? r - 8 : r - 1) {
      if (estimateRunMemory(config, planFor(r, batch)).peakBytes <= WASM_MAX_HEAP_BYTES) {
        return { r, batch, paperBytes };
      }
    }
  }
  return null;
}

if (process.env.REVELA_BENCH_BACKBONES !== "1") {
  process.stderr.write(
    "backboneShapes: off (steps of the smollm2-135m and qwen2.5-0.5b shapes take minutes); REVELA_BENCH_BACKBONES=1 runs it\n",
  );
} else {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const generator =
    process.env.REVELA_MAKE_RANDOM_HF ?? path.resolve(here, "../../../../shared/tools/make_random_hf.py");
  if (!existsSync(generator)) {
    throw new Error(`backboneShapes: the weight generator ${generator} does not exist (set REVELA_MAKE_RANDOM_HF)`);
  }
  const shapes = (process.env.REVELA_BENCH_BACKBONE_SHAPES ?? "smollm2-135m,qwen2.5-0.5b").split(",");
  for (const s of shapes) {
    if (!(s in SHAPES))
      throw new Error(`REVELA_BENCH_BACKBONE_SHAPES: unknown shape "${s}" (known: ${Object.keys(SHAPES).join(", ")})`);
  }
  const steps = intFromEnv("REVELA_BENCH_BACKBONE_STEPS", 1, 1);
  const layers = intFromEnv("REVELA_BENCH_BACKBONE_LAYERS", 0, 1);
  const report = await initBackend();
  // The machine's plain-product rate in this run: the baseline the step rates are read against.
  const sgemm = measureSgemm(1024, 7);
  emit({
    bench: BENCH,
    case: "sgemm-1024",
    impl: "revela",
    metric: "gflops",
    value: Number(sgemm.toFixed(1)),
    unit: "GFLOP/s",
  });
  const tmp = mkdtempSync(path.join(os.tmpdir(), "revela-backbones-"));
  try {
    for (const shape of shapes) {
      const dir = path.join(tmp, shape);
      const spec = SHAPES[shape] as { vocab?: number; note: string };
      const args = [generator, shape, dir];
      if (spec.vocab) args.push("--vocab", String(spec.vocab));
      if (layers > 0) args.push("--layers", String(layers));
      const made = spawnSync("python3", args, { encoding: "utf8" });
      if (made.status !== 0) {
        throw new Error(`backboneShapes: python3 ${args.join(" ")} failed: ${made.stderr || made.error?.message}`);
      }
      const lm = await loadPretrained(dir);
      const plan = choosePlan(lm.config);
      if (plan === null) {
        process.stderr.write(`backboneShapes: ${shape}: no LoRA rank fits the wasm heap at B 16 or B 4; skipped\n`);
        lm.dispose();
        continue;
      }
      const estimate = estimateRunMemory(lm.config, planFor(plan.r, plan.batch));
      enableLora(lm, lora(plan.r), { seed: 11 });
      const retrieverModel = CausalLM.withFrozenBase(lm, { backbone: true });
      enableLora(retrieverModel, lora(plan.r), { seed: 13 });
      for (const m of [lm, retrieverModel]) m.recomputeLayers = true;
      const paperFits = plan.r === 256 && plan.batch === 16;
      process.stderr.write(
        `backboneShapes: ${shape} (${spec.note}${layers ? `, cut to ${layers} layers` : ""}): LoRA r ${plan.r} at B ${plan.batch} × L ${SEQ}` +
          `${paperFits ? "" : ` — the paper's r 256 at B 16 needs an estimated ${formatBytes(plan.paperBytes)}, more than the 4 GiB heap`}; estimate ${formatBytes(estimate.peakBytes)}\n`,
      );
      try {
        const [result] = await benchmarkRevelaStep({
          lm,
          retrieverModel,
          batchSize: plan.batch,
          seqLen: SEQ,
          implementations: ["streaming"],
          steps,
          topK: 2,
          temperature: 1e-4,
        });
        if (!result) throw new Error("backboneShapes: benchmarkRevelaStep returned no result");
        const params = {
          shape,
          layers: lm.config.numHiddenLayers,
          vocab: lm.config.vocabSize,
          loraR: plan.r,
          loraAlpha: 64,
          batch: plan.batch,
          seq: SEQ,
          paperFits,
          estimateAtPaperGiB: Number((plan.paperBytes / 2 ** 30).toFixed(2)),
          estimateGiB: Number((estimate.peakBytes / 2 ** 30).toFixed(2)),
          wasmHeapMiB: result.wasmHeapMiB === null ? null : Math.round(result.wasmHeapMiB),
          rssMiB: Math.round(result.rssMiB),
          stepsMs: result.samples.map((x) => Math.round(x.ms)),
          backend: report.backend,
          threads: report.threads,
        };
        const line = { bench: BENCH, case: shape, impl: "revela", baseline: "sgemm-1024", params } as const;
        emit({ ...line, metric: "median-step", value: Math.round(result.medianStepMs), unit: "ms" });
        emit({ ...line, metric: "tokens-per-second", value: Number(result.tokensPerSecond.toFixed(2)), unit: "tok/s" });
        if (result.wasmHeapMiB !== null) {
          emit({ ...line, metric: "wasm-heap", value: Math.round(result.wasmHeapMiB), unit: "MiB" });
        }
      } finally {
        lm.dispose();
        retrieverModel.dispose();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
