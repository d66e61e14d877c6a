import type { BackendName } from "@revela/kernels";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  DEMO_SETTINGS,
  type PlantedPoint,
  type PlantedResult,
  type PlantedSettings,
  runPlantedExperiment,
  type WeightsMode,
} from "../demo/plantedExperiment.js";
import { addBackendOptions, startBackend } from "./backendOptions.js";
import type { CliContext } from "./cliContext.js";
import { nonNegativeInteger, positiveInteger, positiveNumber } from "./flagParsers.js";

const nonNegativeNumber = (text: string): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("It must be a number ≥ 0.");
  return n;
};

interface PlantedOptions {
  seed: number;
  pairs: number;
  batchPairs: number;
  hiddenSize: number;
  retrieverInit: number;
  factPool: number;
  temperature: number;
  implementation: PlantedSettings["implementation"];
  warmupSteps: number;
  warmupGap: number;
  warmupWeights: PlantedSettings["warmupWeights"];
  steps: number;
  arms: WeightsMode[];
  retrieverLr: number;
  lmLr: number;
  armLmLr: number;
  evalEvery: number;
  json?: boolean;
  backend?: BackendName;
  threads?: number;
}

const ARMS: readonly WeightsMode[] = ["retriever", "uniform", "detached"];

const armList = (text: string): WeightsMode[] => {
  const names = text.split(",").map((s) => s.trim());
  if (names.some((n) => !ARMS.includes(n as WeightsMode)) || new Set(names).size !== names.length)
    throw new InvalidArgumentError(`It must be a comma-separated list of distinct names among ${ARMS.join(", ")}.`);
  return names as WeightsMode[];
};

const ARM_TITLES: Record<WeightsMode, string> = {
  retriever: "Revela: W from the retriever, gradient through W",
  uniform: "Control: W frozen uniform",
  detached: "Control: W from the retriever, detached (no gradient through W)",
};

const f3 = (x: number | null) => (x === null ? "—" : x.toFixed(3));

const HEADER = [
  "step",
  "phase",
  "loss",
  "W→partner (train)",
  "W→partner (held-out)",
  "Recall@1",
  "fact loss, W",
  "fact loss, oracle W",
  "fact loss, no in-batch",
];
const WIDTHS = [9, ...HEADER.map((h) => Math.max(h.length, 7))];

const row = (cells: string[]) => cells.map((c, i) => c.padStart(WIDTHS[i] as number)).join("  ");

const pointCells = (p: PlantedPoint) => [
  String(p.step),
  p.phase,
  f3(p.trainLoss),
  f3(p.trainPartnerMass),
  f3(p.partnerMass),
  f3(p.recallAt1),
  f3(p.factLossWithW),
  f3(p.factLossOracle),
  f3(p.factLossWithout),
];

function summary(r: PlantedResult): string {
  const u = r.untrained;
  const lines = [
    `Untrained retriever: Recall@1 ${f3(u.recallAt1)} over the ${r.chunks} chunks (chance ${f3(r.chanceRecallAt1)}), W mass on the partner ${f3(u.partnerMass)} in held-out batches (uniform W: ${f3(r.uniformPartnerMass)})`,
  ];
  for (const arm of r.arms) {
    const z = arm.final;
    lines.push(
      `${ARM_TITLES[arm.weights]}, after ${r.settings.steps} steps:`,
      `  Recall@1 ${f3(u.recallAt1)} untrained → ${f3(z.recallAt1)} trained; W mass on the partner (held-out) ${f3(u.partnerMass)} → ${f3(z.partnerMass)}`,
      `  LM loss on partner-dependent tokens (first mention of each fact): ${f3(z.factLossWithW)} with in-batch attention under the run's W, ${f3(z.factLossOracle)} under the oracle W, ${f3(z.factLossWithout)} without in-batch attention (ln fact pool ${f3(r.uniformFactLoss)})`,
    );
  }
  lines.push(`${r.seconds.toFixed(0)} s`);
  return `${lines.join("\n")}\n`;
}

async function planted(command: Command, ctx: CliContext): Promise<void> {
  const o = command.opts<PlantedOptions>();
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  await startBackend(o, log);
  const settings: PlantedSettings = {
    ...DEMO_SETTINGS,
    seed: o.seed,
    pairs: o.pairs,
    batchPairs: o.batchPairs,
    factPool: o.factPool,
    model: {
      ...DEMO_SETTINGS.model,
      hiddenSize: o.hiddenSize,
      ffn: 2 * o.hiddenSize,
      retrieverInitRange: o.retrieverInit,
    },
    temperature: o.temperature,
    implementation: o.implementation,
    warmupSteps: o.warmupSteps,
    ...(o.warmupGap > 0 ? { warmupGap: o.warmupGap } : {}),
    warmupWeights: o.warmupWeights,
    steps: o.steps,
    arms: o.arms,
    retrieverLr: o.retrieverLr,
    lmLr: o.lmLr,
    armLmLr: o.armLmLr,
    evalEvery: o.evalEvery,
  };
  if (settings.batchPairs > settings.pairs)
    throw new Error(`--batch-pairs (${settings.batchPairs}) must be ≤ --pairs (${settings.pairs})`);
  const s = settings;
  if (!o.json) {
    ctx.stdout.write(
      `Planted relevance: ${s.pairs} pairs (${2 * s.pairs} chunks), B = ${2 * s.batchPairs}, LLaMA d ${s.model.hiddenSize} × ${s.model.layers} layers from scratch (LM and retriever), τ = ${s.temperature}, ${s.implementation} in-batch attention, lr LM ${s.lmLr} (warm-up) / ${s.armLmLr ?? s.lmLr} (arms), retriever ${s.retrieverLr}, retriever init std ${s.model.retrieverInitRange}, ${s.factPool} facts\n` +
        `LM warm-up with ${s.warmupWeights} W (retriever untouched), ${s.warmupGap !== undefined ? `until its fact loss under the oracle W is ${s.warmupGap} nats below ln ${s.factPool}, at most ${s.warmupSteps} steps` : `${s.warmupSteps} steps`}, then ${s.steps} steps per arm from the same weights and batches: ${s.arms.join(", ")}\n` +
        "fact loss = LM loss on each fact's first mention in a chunk, predictable only from the partner; W→partner = mean W mass on the partner\n\n",
    );
    ctx.stdout.write(`${row(["arm", ...HEADER])}\n`);
  }
  const result: PlantedResult = await runPlantedExperiment(settings, {
    signal: ctx.signal,
    onPoint: (p, arm) => {
      if (o.json) ctx.stdout.write(`${JSON.stringify({ arm: arm ?? null, ...p })}\n`);
      else ctx.stdout.write(`${row([arm ?? "—", ...pointCells(p)])}\n`);
    },
  });
  if (o.json) {
    ctx.stdout.write(
      `${JSON.stringify({ summary: { untrained: result.untrained, arms: result.arms.map((a) => ({ weights: a.weights, final: a.final })), chanceRecallAt1: result.chanceRecallAt1, uniformPartnerMass: result.uniformPartnerMass, seconds: result.seconds } })}\n`,
    );
    return;
  }
  ctx.stdout.write(`\n${summary(result)}`);
}

/** `revela demo`: experiments that show what the method does, on generated data. */
export function registerDemoCommand(program: Command, ctx: CliContext): Command {
  const demo = program.command("demo").description("experiments on generated data that show what Revela learns");
  const d = DEMO_SETTINGS;
  const command = demo
    .command("planted")
    .description(
      "planted relevance: pairs of chunks share a made-up entity and facts; does the gradient through W teach a from-scratch retriever to find each chunk's partner? Prints the curves of Revela and of a control with W frozen uniform",
    )
    .addOption(
      new Option("--seed <n>", "seed of the corpus, models and batches").default(d.seed).argParser(nonNegativeInteger),
    )
    .addOption(new Option("--pairs <n>", "partner pairs in the corpus").default(d.pairs).argParser(positiveInteger))
    .addOption(
      new Option("--batch-pairs <n>", "pairs per batch (B = 2n chunks)")
        .default(d.batchPairs)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option("--hidden-size <n>", "d of both models (ffn 2d)")
        .default(d.model.hiddenSize)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option("--temperature <tau>", "τ of W = softmax(cos/τ)").default(d.temperature).argParser(positiveNumber),
    )
    .addOption(
      new Option("--implementation <name>", "in-batch attention implementation")
        .choices(["dense", "streaming"])
        .default(d.implementation),
    )
    .addOption(
      new Option("--warmup-steps <n>", "most LM-only steps before the retriever trains")
        .default(d.warmupSteps)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option(
        "--warmup-gap <nats>",
        "end the warm-up once the LM's loss on partner-dependent tokens under the oracle W is this far below ln(fact pool); 0 = always --warmup-steps",
      )
        .default(d.warmupGap ?? 0)
        .argParser(nonNegativeNumber),
    )
    .addOption(
      new Option("--warmup-weights <w>", "W during the LM warm-up")
        .choices(["uniform", "oracle"])
        .default(d.warmupWeights),
    )
    .addOption(
      new Option("--steps <n>", "Revela steps after the warm-up").default(d.steps).argParser(nonNegativeInteger),
    )
    .addOption(
      new Option(
        "--arms <list>",
        "runs after the warm-up, from the same weights: retriever (Revela), uniform, detached",
      )
        .default(d.arms)
        .argParser(armList),
    )
    .addOption(
      new Option("--retriever-lr <lr>", "retriever learning rate").default(d.retrieverLr).argParser(positiveNumber),
    )
    .addOption(new Option("--lm-lr <lr>", "LM learning rate in the warm-up").default(d.lmLr).argParser(positiveNumber))
    .addOption(
      new Option("--arm-lm-lr <lr>", "LM learning rate after the warm-up")
        .default(d.armLmLr ?? d.lmLr)
        .argParser(positiveNumber),
    )
    .addOption(
      new Option("--retriever-init <std>", "std of the retriever's random init")
        .default(d.model.retrieverInitRange)
        .argParser(positiveNumber),
    )
    .addOption(
      new Option("--fact-pool <n>", "made-up fact words (a pair's facts are drawn from them)")
        .default(d.factPool)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option("--eval-every <n>", "steps between evaluation points").default(d.evalEvery).argParser(positiveInteger),
    )
    .addOption(new Option("--json", "print one JSON line per evaluation point instead of tables"));
  addBackendOptions(command).action(async () => planted(command, ctx));
  return demo;
}
