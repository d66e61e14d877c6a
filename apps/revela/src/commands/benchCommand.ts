import fs from "node:fs";
import path from "node:path";
import { CROSS_ATTENTION_OPTIONS, DOCUMENT_WEIGHTS_OPTIONS } from "@revela/inbatch-attention";
import { type BackendName, formatBytes, resetWasmTensorPeak, wasmTensorBytes } from "@revela/kernels";
import { estimateRunMemory, parseLoraConfig, parseModelConfig } from "@revela/language-model";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  benchmarkModels,
  byKernelName,
  type StepBenchmarkResult,
  type StepImplementation,
} from "../bench/revelaStepBenchmark.js";
import { addBackendOptions, startBackend } from "./backendOptions.js";
import type { CliContext } from "./cliContext.js";
import { fraction, nonEmptyText, parserOf, positiveInteger, positiveNumber } from "./flagParsers.js";
import { checkModelDir } from "./modelDir.js";
import { applyOptionsConfigFile } from "./optionsConfigFile.js";

interface BenchOptions {
  model?: string;
  loraR?: number;
  loraAlpha: number;
  loraDropout: number;
  batchSize: number;
  seq: number;
  implementations: StepImplementation[];
  steps: number;
  topK: number;
  temperature: number;
  vocab: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  json?: boolean;
  profile?: boolean;
  backend?: BackendName;
  threads?: number;
}

const IMPLEMENTATIONS: readonly StepImplementation[] = CROSS_ATTENTION_OPTIONS.implementation.choices;
const LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

const implementationList = (text: string): StepImplementation[] => {
  const names = text.split(",").map((s) => s.trim());
  const bad = names.filter((n) => !IMPLEMENTATIONS.includes(n as StepImplementation));
  if (names.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(`It must be a comma-separated list of ${IMPLEMENTATIONS.join(", ")}.`);
  }
  return names as StepImplementation[];
};

async function bench(command: Command, ctx: CliContext): Promise<void> {
  await applyOptionsConfigFile(command);
  const o = command.opts<BenchOptions>();
  if (o.model !== undefined) checkModelDir(o.model, "--model");
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  await startBackend(o, log);
  const shape = o.model
    ? `model ${o.model}`
    : `from scratch: vocab ${o.vocab}, d ${o.hiddenSize}, ${o.layers} layers, ${o.heads}/${o.kvHeads} heads, ffn ${o.ffn}`;
  const lora =
    o.loraR !== undefined
      ? parseLoraConfig(
          { r: o.loraR, lora_alpha: o.loraAlpha, lora_dropout: o.loraDropout, target_modules: LORA_TARGETS },
          "--lora-r/--lora-alpha/--lora-dropout",
        )
      : null;
  const trained = lora
    ? `LoRA r ${lora.r} α ${lora.loraAlpha} dropout ${lora.loraDropout} on ${LORA_TARGETS.join(", ")} of both models, one frozen base shared${o.model ? ", its decoder layers offloaded to JavaScript memory" : ""}`
    : "all weights trained";
  log(
    `Revela steps (retriever and LM of the same shape, ${trained}), ${shape}, batch ${o.batchSize} × ${o.seq} tokens`,
  );
  if (o.model) {
    const file = path.join(o.model, "config.json");
    const estimate = estimateRunMemory(parseModelConfig(JSON.parse(fs.readFileSync(file, "utf8")), file), {
      lora,
      sharedBase: lora !== null,
      // As benchmarkModels loads it: with LoRA the frozen decoder layers stay in JavaScript memory.
      offloadLayers: lora !== null,
      train: { batch: o.batchSize, lmTokens: o.seq, retrieverTokens: o.seq, recompute: true },
      encode: null,
    });
    log(`  estimated peak: ${formatBytes(estimate.peakBytes)} (estimateRunMemory)`);
  }
  resetWasmTensorPeak();
  const results = await benchmarkModels({
    model: o.model ?? null,
    lora,
    scratch: {
      vocab: o.vocab,
      hiddenSize: o.hiddenSize,
      layers: o.layers,
      heads: o.heads,
      kvHeads: o.kvHeads,
      ffn: o.ffn,
    },
    batchSize: o.batchSize,
    seqLen: o.seq,
    implementations: o.implementations,
    steps: o.steps,
    topK: o.topK,
    temperature: o.temperature,
    profile: o.profile === true,
    onStep: (impl, x) =>
      log(
        `  ${impl} step ${x.step}/${o.steps}: ${(x.ms / 1000).toFixed(2)} s, ${x.pairs} pairs per layer` +
          ` (W: ${x.nonZeroWeights} of ${o.batchSize * (o.batchSize - 1)} non-zero)` +
          `${x.heapGrowthMiB === null ? "" : `, heap +${x.heapGrowthMiB.toFixed(0)} MiB`}, GC ${x.gcMs.toFixed(0)} ms`,
      ),
  });
  if (results.some((r) => r.wasmHeapMiB !== null)) {
    log(`  wasm tensor buffers at their peak: ${formatBytes(wasmTensorBytes().peak)} (weights included)`);
  }
  if (o.json) {
    for (const r of results) {
      ctx.stdout.write(`${JSON.stringify({ ...r, batchSize: o.batchSize, seqLen: o.seq, steps: o.steps })}\n`);
    }
    return;
  }
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const rows = results.map((r) => [
    r.implementation,
    seconds(r.minStepMs),
    seconds(r.medianStepMs),
    seconds(r.maxStepMs),
    `${(r.maxStepMs / r.minStepMs).toFixed(2)}×`,
    r.tokensPerSecond.toFixed(0),
    r.wasmHeapMiB === null ? "—" : `${r.wasmHeapMiB} MiB`,
    `${r.rssMiB} MiB`,
  ]);
  const header = ["implementation", "min step", "median step", "max step", "max/min", "tokens/s", "wasm heap", "RSS"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  ctx.stdout.write(`${[line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")}\n`);
  for (const r of results) printProfile(r, (text) => void ctx.stdout.write(`${text}\n`));
}

/** One line per pass: its profiled total and its heaviest kernels with their shares. */
function printProfile(r: StepBenchmarkResult, write: (line: string) => void): void {
  if (!r.profile) return;
  for (const [part, rows] of [
    ["forward", byKernelName(r.profile.forward)],
    ["backward", byKernelName(r.profile.backward)],
  ] as const) {
    const total = rows.reduce((s, x) => s + x.ms, 0);
    const top = rows
      .slice(0, 6)
      .map((x) => `${x.kernel} ${Math.round((100 * x.ms) / total)}% (${x.calls}×)`)
      .join(", ");
    write(`${r.implementation} ${part} (profiled, ${(total / 1000).toFixed(2)} s): ${top}`);
  }
}

/** `revela bench`: tokens/s and memory of full Revela training steps on this machine. */
export function registerBenchCommand(program: Command, ctx: CliContext): Command {
  const command = program
    .command("bench")
    .description(
      "time full Revela training steps (both models, backward, AdamW) on this machine: tokens/s and memory per in-batch implementation; defaults to the reference configuration",
    )
    .addOption(
      new Option(
        "--model <hfDir>",
        "benchmark a Hugging Face checkpoint folder instead of a from-scratch LLaMA",
      ).argParser(nonEmptyText),
    )
    .addOption(
      new Option(
        "--lora-r <n>",
        "LoRA rank on the 7 projections of both models, the retriever on the LM's frozen base (what train --model runs)",
      ).argParser(positiveInteger),
    )
    .addOption(new Option("--lora-alpha <n>", "LoRA alpha").default(64).argParser(positiveNumber))
    .addOption(new Option("--lora-dropout <p>", "LoRA dropout").default(0.1).argParser(fraction))
    .addOption(new Option("--batch-size <n>", "chunks per batch, B").default(16).argParser(positiveInteger))
    .addOption(new Option("--seq <n>", "tokens per chunk, L").default(128).argParser(positiveInteger))
    .addOption(
      new Option("--implementations <list>", `in-batch implementations, comma-separated: ${IMPLEMENTATIONS.join(", ")}`)
        .default(["streaming", "topk"])
        .argParser(implementationList),
    )
    .addOption(
      new Option("--steps <n>", "timed steps per implementation (after one warm-up step)")
        .default(3)
        .argParser(positiveInteger),
    )
    // τ and top-k: the package's defaults and rules (the reference configuration's τ is the paper's).
    .addOption(
      new Option("--top-k <n>", CROSS_ATTENTION_OPTIONS.topK.doc)
        .default(CROSS_ATTENTION_OPTIONS.topK.default)
        .argParser(parserOf(CROSS_ATTENTION_OPTIONS.topK)),
    )
    .addOption(
      new Option("--temperature <tau>", DOCUMENT_WEIGHTS_OPTIONS.temperature.doc)
        .default(DOCUMENT_WEIGHTS_OPTIONS.temperature.default)
        .argParser(parserOf(DOCUMENT_WEIGHTS_OPTIONS.temperature)),
    )
    .addOption(new Option("--vocab <n>", "from scratch: vocabulary size").default(8192).argParser(positiveInteger))
    .addOption(new Option("--hidden-size <n>", "from scratch: d").default(256).argParser(positiveInteger))
    .addOption(new Option("--layers <n>", "from scratch: decoder layers").default(4).argParser(positiveInteger))
    .addOption(new Option("--heads <n>", "from scratch: attention heads").default(8).argParser(positiveInteger))
    .addOption(new Option("--kv-heads <n>", "from scratch: key/value heads").default(4).argParser(positiveInteger))
    .addOption(new Option("--ffn <n>", "from scratch: MLP width").default(688).argParser(positiveInteger))
    .addOption(
      new Option("--profile", "also profile one step per implementation: its forward and backward passes per kernel"),
    )
    .addOption(new Option("--json", "print one JSON line per implementation instead of a table"));
  addBackendOptions(command)
    .addOption(new Option("--config <file.json>", "JSON object of these options (flags override it)"))
    .action(async () => bench(command, ctx));
  return command;
}
