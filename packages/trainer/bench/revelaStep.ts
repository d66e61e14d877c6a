import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { emit, median } from "@revela/bench";
import { documentWeights } from "@revela/inbatch-attention";
import { frugalVariableGrads, initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "../src/optim/adamW.js";
import type { RevelaBatchTensors } from "../src/revela/revelaBatch.js";
import { revelaLmLoss, revelaLoss } from "../src/revela/revelaLoss.js";
import { namedTrainables } from "../src/revela/revelaTrainer.js";

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

const time = (f: () => void, runs: number) => {
  f();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
};

const report = await initBackend();
const lm = CausalLM.create(cfg, { seed: 0 });
const backbone = CausalLM.create(cfg, { seed: 1, backbone: true });
const tokenizerStub = { eosTokenId: 1, padTokenId: 0, encode: () => [] as number[] };
const retriever = new DenseEncoder(backbone, tokenizerStub, { maxLength: L });
const ids = tf.randomUniform([B, L], 2, V, "int32", 1) as tf.Tensor2D;
const ones = tf.ones([B, L], "int32") as tf.Tensor2D;
const batch: RevelaBatchTensors = {
  lmIds: ids,
  lmMask: ones,
  queryIds: tf.slice(ids, [0, 0], [B, L / 2]) as tf.Tensor2D,
  queryMask: tf.ones([B, L / 2], "int32") as tf.Tensor2D,
  passageIds: ids,
  passageMask: ones,
  lmTokens: B * L,
};
const vars = [...Object.values(namedTrainables("retriever", backbone)), ...Object.values(namedTrainables("lm", lm))];
const optimizer = new AdamW(vars, { lr: 1e-4 });
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

const results: Record<string, number> = {};
// The wasm heap only grows, so its size after the steps is the peak a step needed (plus weights).
const wasmHeapMiB = () => {
  const heap = (tf.backend() as unknown as { wasm?: { HEAP8: Int8Array } }).wasm?.HEAP8;
  return heap ? Math.round(heap.length / 2 ** 20) : null;
};
// `dense` materialises [B, B, H, L, L] per layer: at the reference config its step exhausts the
// 4 GiB wasm heap (observed: allocation slows to a crawl), so it only runs with --dense.
const implementations = process.argv.includes("--dense")
  ? (["streaming", "topk", "dense"] as const)
  : (["streaming", "topk"] as const);
for (const implementation of implementations) {
  const options = { temperature: 1e-4, implementation, topK: 2, valueNorm: true, dualLoss: false };
  const step = () => {
    const { value, grads } = frugalVariableGrads(() => revelaLoss(retriever, lm, batch, options).loss, vars);
    value.dataSync();
    optimizer.step(grads);
    tf.dispose([value, grads]);
    (vars[0] as tf.Variable).dataSync();
  };
  const ms = time(step, implementation === "dense" ? 2 : 3);
  results[implementation] = (B * L * 1000) / ms;
  emit({
    bench: "trainer/revela-step",
    case: `reference-${implementation}`,
    impl: "revela",
    metric: "tokens_per_s",
    value: Math.round(results[implementation] as number),
    unit: "tokens/s",
    params: {
      ...params,
      implementation,
      medianStepMs: Math.round(ms),
      wasmHeapMiB: wasmHeapMiB(),
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    },
  });
}

// Where a streaming step's time goes: forward pieces timed alone, backward = full step − forward − optimizer.
const options = { temperature: 1e-4, implementation: "streaming" as const, topK: 2, valueNorm: true, dualLoss: false };
const sync = (t: tf.Tensor) => t.dataSync();
const retrieverMs = time(
  () =>
    tf.tidy(() => {
      sync(retriever.embed(batch.queryIds, batch.queryMask));
      sync(retriever.embed(batch.passageIds, batch.passageMask));
    }),
  3,
);
const pass1Ms = time(
  () =>
    tf.tidy(() => {
      sync(lm.keyValues(ids, ones).values.at(-1) as tf.Tensor);
    }),
  3,
);
const pass1LossMs = time(
  () =>
    tf.tidy(() => {
      sync(lm.forward(ids, ones, { computeLoss: true, returnLogits: false }).loss as tf.Scalar);
    }),
  3,
);
const weights = tf.tidy(() =>
  documentWeights(
    retriever.embed(batch.queryIds, batch.queryMask),
    retriever.embed(batch.passageIds, batch.passageMask),
    { temperature: 1e-4 },
  ),
);
const lmLossMs = time(
  () =>
    tf.tidy(() => {
      sync(revelaLmLoss(lm, batch, weights, options).loss);
    }),
  3,
);
const pass2Ms = lmLossMs - pass1Ms;
const inBatchMs = pass2Ms - pass1LossMs;
const optimizerMs = time(() => {
  const grads = Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)]));
  optimizer.step(grads);
  tf.dispose(Object.values(grads));
  (vars[0] as tf.Variable).dataSync();
}, 3);
const stepMs = (B * L * 1000) / (results.streaming as number);
const backwardMs = stepMs - retrieverMs - lmLossMs - optimizerMs;
for (const [part, ms] of Object.entries({
  retriever: retrieverMs,
  "lm-pass-1 (keys/values only)": pass1Ms,
  "lm-pass-2 without in-batch term (= forward with loss)": pass1LossMs,
  "in-batch term (forward)": inBatchMs,
  backward: backwardMs,
  optimizer: optimizerMs,
})) {
  emit({
    bench: "trainer/revela-step",
    case: "streaming-breakdown",
    impl: "revela",
    metric: "ms",
    value: Math.round(ms),
    unit: "ms",
    params: { part, share: Number((ms / stepMs).toFixed(3)) },
  });
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
