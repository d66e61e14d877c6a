import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CrossAttentionImplementation,
  crossDocumentAttention,
  documentWeights,
  roundToBfloat16,
} from "@revela/inbatch-attention";
import { frugalVariableGrads, initBackend } from "@revela/kernels";
import { type CausalLM, type ForwardOptions, loadPretrained } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RevelaBatchTensors } from "../../src/revela/revelaBatch.js";
import { type RevelaLossOptions, revelaLmLoss, revelaLoss } from "../../src/revela/revelaLoss.js";

/*
 * A whole Revela step against an independent float64 PyTorch implementation of the official math
 * (tooling/goldens/generate_revela_step_goldens.py): tiny LLaMA and Qwen2 retrievers and LMs with
 * grouped heads, a ragged right-padded batch of B = 5 chunks, LoRA on every projection of both
 * models (one case trains every weight instead), V-norm on and off, dual loss on and off, τ = 1e-4
 * and τ = 0.05. The goldens are built from token ids directly: tokenisation has its own golden.
 */

const GOLDENS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "goldens", "revela-step");
const GENERATOR = "tooling/goldens/generate_revela_step_goldens.py";

const CASES = [
  "llama-lora-tau1e-4",
  "llama-lora-tau1e-4-novnorm-dual",
  "llama-lora-tau0.05-dual",
  "llama-lora-tau0.05-novnorm",
  "qwen2-lora-tau1e-4",
  "qwen2-lora-tau1e-4-novnorm-dual",
  "qwen2-lora-tau0.05-dual",
  "qwen2-lora-tau0.05-novnorm",
  "qwen2-full-tau0.05-dual",
];
/** The cases that also check V-norm with small values (its ε is invisible next to norms of order one). */
const SMALL_VALUE_CASES = ["llama-lora-tau0.05-dual", "qwen2-lora-tau0.05-dual", "qwen2-full-tau0.05-dual"];
const IMPLEMENTATIONS: CrossAttentionImplementation[] = ["dense", "streaming", "topk"];
const BACKENDS = ["cpu", "wasm"] as const;

/*
 * Every comparison is max |ours − PyTorch| / max |PyTorch| over a tensor: float32 against float64,
 * so about 1e-7 per operation, grown by the depth of the computation.
 */
const TOLERANCE = 1e-5;

interface GoldenTensor {
  shape: number[];
  values: number[];
}

interface StepGolden {
  generator: string;
  architecture: "llama" | "qwen2";
  lora: boolean;
  temperature: number;
  valueNorm: boolean;
  dualLoss: boolean;
  query_embeddings: GoldenTensor;
  passage_embeddings: GoldenTensor;
  similarities: GoldenTensor;
  weights: GoldenTensor;
  /** Path (relative to the golden folder) of the LM's pass 1: it depends only on the LM and the batch. */
  pass1: string;
  pass2_queries: GoldenTensor[];
  inbatch_terms: GoldenTensor[];
  pass1_loss: number;
  pass2_loss: number;
  loss: number;
  dloss_dweights: GoldenTensor;
  grads?: { retriever: Record<string, GoldenTensor>; lm: Record<string, GoldenTensor> };
  /** The in-batch term from the same Q, K and W with V × small_values_scale: where V-norm's ε shows. */
  inbatch_terms_small_values?: GoldenTensor[];
  small_values_scale?: number;
  /** W with cos rounded to bfloat16 before /τ; at τ = 0.05 also ∂Σ(W ⊙ dL/dW)/∂(embeddings). */
  bf16_similarity: {
    similarities: GoldenTensor;
    weights: GoldenTensor;
    /** Smallest distance of an off-diagonal cos to a bf16 rounding boundary. */
    rounding_margin: number;
    grad_query_embeddings?: GoldenTensor;
    grad_passage_embeddings?: GoldenTensor;
  };
}

interface Pass1Golden {
  keys: GoldenTensor[];
  values: GoldenTensor[];
  loss: number;
}

type Ids = { input_ids: number[][]; attention_mask: number[][] };
type BatchGolden = Record<"lm" | "query" | "passage", Ids>;

function readGolden<T>(relative: string): T {
  const file = path.join(GOLDENS, relative);
  if (!fs.existsSync(file)) throw new Error(`golden file ${file} is missing: run ${GENERATOR}`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** Largest relative error seen per quantity, over cases, implementations and backends (printed at the end). */
const worst = new Map<string, number>();

function relativeError(actual: ArrayLike<number>, golden: GoldenTensor, what: string): number {
  if (actual.length !== golden.values.length) {
    throw new Error(`${what}: ${actual.length} values, the golden has ${golden.values.length} [${golden.shape}]`);
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs((actual[i] as number) - (golden.values[i] as number));
    if (!(d <= diff)) diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    scale = Math.max(scale, Math.abs(golden.values[i] as number));
  }
  if (scale === 0) throw new Error(`${what}: the golden is all zeros, so matching it would prove nothing`);
  return diff / scale;
}

function expectClose(kind: string, what: string, actual: tf.Tensor, golden: GoldenTensor, tolerance = TOLERANCE) {
  expect(actual.shape, `${what}: shape`).toEqual(golden.shape);
  const error = relativeError(actual.dataSync(), golden, what);
  const label = `${tf.getBackend()}: ${kind}${tolerance === TOLERANCE ? "" : ` (tolerance ×${(tolerance / TOLERANCE).toFixed(1)})`}`;
  worst.set(label, Math.max(worst.get(label) ?? 0, error));
  expect(error, `${what}: max |ours − PyTorch| / max |PyTorch|`).toBeLessThanOrEqual(tolerance);
}

function expectScalarClose(kind: string, what: string, actual: tf.Tensor | undefined, golden: number) {
  expect(actual, `${what}: missing`).toBeDefined();
  expectClose(kind, what, actual as tf.Tensor, { shape: [], values: [golden] });
}

const fromGolden = (g: GoldenTensor) => tf.tensor(g.values, g.shape, "float32");

/** dL/dS_ij = W_ij (dL/dW_ij − Σ_k W_ik dL/dW_ik) / τ, the softmax's backward, in float64 from the goldens. */
function similarityGradient(g: StepGolden): number[] {
  const w = g.weights.values;
  const dw = g.dloss_dweights.values;
  const b = g.weights.shape[0] as number;
  return w.map((wij, n) => {
    const i = Math.floor(n / b);
    let mean = 0;
    for (let k = 0; k < b; k++) mean += (w[i * b + k] as number) * (dw[i * b + k] as number);
    return (wij * ((dw[n] as number) - mean)) / g.temperature;
  });
}

/**
 * How much the step magnifies float32 error on its way into the retriever. The retriever reaches the
 * loss only through dL/dS (above): W_ij (dL/dW_ij − Σ_k W_ik dL/dW_ik) subtracts nearly equal numbers,
 * so errors of order ε·max|dL/dW| (from dL/dW itself, and from W, whose float32 error is S's divided
 * by τ) become a relative error ε · max|dL/dW| / max|τ·dL/dS| in dL/dS and in everything
 * backpropagated from it. This returns that factor (at least 1) from the goldens.
 */
function softmaxCancellation(g: StepGolden): number {
  const ds = Math.max(...similarityGradient(g).map((x) => Math.abs(x * g.temperature)));
  return Math.max(1, Math.max(...g.dloss_dweights.values.map(Math.abs)) / ds);
}

function batchTensors(b: BatchGolden): RevelaBatchTensors {
  const ids = (x: number[][]) => tf.tensor2d(x, undefined, "int32");
  return {
    lmIds: ids(b.lm.input_ids),
    lmMask: ids(b.lm.attention_mask),
    queryIds: ids(b.query.input_ids),
    queryMask: ids(b.query.attention_mask),
    passageIds: ids(b.passage.input_ids),
    passageMask: ids(b.passage.attention_mask),
    lmTokens: b.lm.attention_mask.flat().reduce((s, x) => s + x, 0),
  };
}

/** What trains, under the generator's names: LoRA A/B when the model has adapters, else every weight. */
function trainedVariables(model: CausalLM): Map<string, tf.Variable> {
  const vars = new Map<string, tf.Variable>();
  if (model.lora.size) {
    for (const [module, adapter] of model.lora) {
      vars.set(`${module}.lora_A`, adapter.a);
      vars.set(`${module}.lora_B`, adapter.b);
    }
  } else {
    for (const [name, v] of model.params) vars.set(name, v);
  }
  return vars;
}

/**
 * Records, through the LM's attention extension point, the pass-2 queries and the in-batch term
 * of every layer that revelaLmLoss computes (it installs the hook itself, so the hook is wrapped).
 */
function recordPass2(lm: CausalLM): { queries: Float32Array[]; terms: Float32Array[]; shapes: number[][] } {
  const record = { queries: [] as Float32Array[], terms: [] as Float32Array[], shapes: [] as number[][] };
  const forward = lm.forward.bind(lm);
  lm.forward = (inputIds: tf.Tensor, attentionMask: tf.Tensor, options: ForwardOptions = {}) => {
    const hook = options.attentionTerm;
    if (!hook) return forward(inputIds, attentionMask, options);
    return forward(inputIds, attentionMask, {
      ...options,
      attentionTerm: (args) => {
        const term = hook(args);
        if (!term) throw new Error(`layer ${args.layer}: revelaLmLoss added no in-batch term`);
        record.queries[args.layer] = args.queries.dataSync() as Float32Array;
        record.terms[args.layer] = term.dataSync() as Float32Array;
        record.shapes[args.layer] = term.shape;
        return term;
      },
    });
  };
  return record;
}

async function loadModels(g: StepGolden) {
  const dir = path.join(GOLDENS, g.architecture);
  const adapter = (sub: string) => (g.lora ? { adapter: path.join(dir, sub, "lora") } : {});
  const retrieverModel = await loadPretrained(path.join(dir, "retriever"), { backbone: true, ...adapter("retriever") });
  const lm = await loadPretrained(path.join(dir, "lm"), adapter("lm"));
  const retriever = new DenseEncoder(retrieverModel, null, { pooling: "eos", normalize: true });
  return { retrieverModel, lm, retriever };
}

it("the golden folder holds every case the generator writes", () => {
  const files = fs
    .readdirSync(path.join(GOLDENS, "cases"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();
  expect(files, `cases in ${GOLDENS}/cases (regenerate with ${GENERATOR})`).toEqual([...CASES].sort());
  const withSmallValues = CASES.filter(
    (name) => readGolden<StepGolden>(`cases/${name}.json`).inbatch_terms_small_values,
  );
  expect(withSmallValues, "cases with the small-value V-norm check").toEqual(SMALL_VALUE_CASES);
});

for (const backend of BACKENDS) {
  for (const name of CASES) {
    describe(`${backend}: ${name}`, () => {
      const g = readGolden<StepGolden>(`cases/${name}.json`);
      const pass1 = readGolden<Pass1Golden>(g.pass1);
      const batchGolden = readGolden<BatchGolden>(`${g.architecture}/batch.json`);
      const b = batchGolden.lm.input_ids.length;
      const options = (implementation: CrossAttentionImplementation): RevelaLossOptions => ({
        temperature: g.temperature,
        implementation,
        topK: b - 1,
        valueNorm: g.valueNorm,
        dualLoss: g.dualLoss,
      });
      let models: Awaited<ReturnType<typeof loadModels>>;
      let batch: RevelaBatchTensors;
      let keyMask: tf.Tensor;

      beforeAll(async () => {
        await initBackend({ backend, ...(backend === "wasm" ? { threads: 1 } : {}) });
        models = await loadModels(g);
        batch = batchTensors(batchGolden);
        keyMask = tf.cast(batch.lmMask, "float32");
      });

      afterAll(() => {
        models.lm.dispose();
        models.retrieverModel.dispose();
        tf.dispose([batch.lmIds, batch.lmMask, batch.queryIds, batch.queryMask, batch.passageIds, batch.passageMask]);
        keyMask.dispose();
      });

      it(`runs on ${backend}, with LoRA adapters on both models exactly when the case has them`, () => {
        expect(tf.getBackend()).toBe(backend);
        expect(models.lm.lora.size, "LM adapters").toBe(g.lora ? 14 : 0);
        expect(models.retrieverModel.lora.size, "retriever adapters").toBe(g.lora ? 14 : 0);
      });

      it("retriever: query and passage embeddings, similarities and W", () => {
        tf.tidy(() => {
          const q = models.retriever.embed(batch.queryIds, batch.queryMask);
          const p = models.retriever.embed(batch.passageIds, batch.passageMask);
          expectClose("query embeddings", "query embeddings", q, g.query_embeddings);
          expectClose("passage embeddings", "passage embeddings", p, g.passage_embeddings);
          expectClose("similarities S", "S = q pᵀ", tf.matMul(q, p, false, true), g.similarities);
          const w = documentWeights(q, p, { temperature: g.temperature, excludeDiagonal: true });
          expectClose(`W (τ = ${g.temperature})`, "W", w, g.weights);
        });
      });

      it("W with similarityPrecision bf16: cos rounded to bfloat16 (nearest even) before /τ", () => {
        const golden = g.bf16_similarity;
        tf.tidy(() => {
          const q = models.retriever.embed(batch.queryIds, batch.queryMask);
          const p = models.retriever.embed(batch.passageIds, batch.passageMask);
          // Our float32 cos must round to the same bf16 values as PyTorch's float64 ones: it does when
          // its error is far below the golden's distance to a rounding boundary (the generator keeps ≥ 1e-5).
          const s = tf.matMul(q, p, false, true).dataSync();
          const error = relativeError(s, g.similarities, "S") * Math.max(...g.similarities.values.map(Math.abs));
          expect(error, "float32 error of S against the bf16 rounding margin").toBeLessThan(
            golden.rounding_margin / 10,
          );
          s.forEach((x, n) => {
            if (Math.floor(n / b) === n % b) return; // the diagonal is masked out of W
            expect(roundToBfloat16(x), `bf16(S[${n}])`).toBe(golden.similarities.values[n]);
          });
          const w = documentWeights(q, p, {
            temperature: g.temperature,
            excludeDiagonal: true,
            similarityPrecision: "bf16",
          });
          expectClose(`W, bf16 similarities (τ = ${g.temperature})`, "W (bf16 similarities)", w, golden.weights);
        });
        const gradQ = golden.grad_query_embeddings;
        const gradP = golden.grad_passage_embeddings;
        expect(gradQ === undefined, "a gradient golden exactly for τ = 0.05").toBe(g.temperature !== 0.05);
        if (gradQ && gradP) {
          // The rounding passes the gradient straight through, as a dtype cast does in autograd.
          const dw = fromGolden(g.dloss_dweights);
          const probe = (q: tf.Tensor, p: tf.Tensor) =>
            tf.sum(
              tf.mul(
                documentWeights(q, p, {
                  temperature: g.temperature,
                  excludeDiagonal: true,
                  similarityPrecision: "bf16",
                }),
                dw,
              ),
            );
          const [dq, dp] = tf.grads(probe)([fromGolden(g.query_embeddings), fromGolden(g.passage_embeddings)]);
          expectClose("∂/∂embeddings through bf16 W", "d/dq of Σ W_bf16 ⊙ dL/dW", dq as tf.Tensor, gradQ);
          expectClose("∂/∂embeddings through bf16 W", "d/dp of Σ W_bf16 ⊙ dL/dW", dp as tf.Tensor, gradP);
          tf.dispose([dq, dp, dw]);
        }
      });

      it("revelaLoss with similarityPrecision bf16 uses the bf16 W", () => {
        tf.tidy(() => {
          const out = revelaLoss(models.retriever, models.lm, batch, {
            ...options("streaming"),
            similarityPrecision: "bf16",
          });
          expectClose(
            `W, bf16 similarities (τ = ${g.temperature})`,
            "revelaLoss W (bf16)",
            out.weights,
            g.bf16_similarity.weights,
          );
        });
      });

      it("LM pass 1: every layer's keys (after RoPE) and values, and its loss", () => {
        tf.tidy(() => {
          const full = models.lm.forward(batch.lmIds, batch.lmMask, {
            returnKeyValues: true,
            returnLogits: false,
            computeLoss: true,
          });
          // keyValues is what revelaLmLoss runs when pass 1's loss is not needed.
          const only = models.lm.keyValues(batch.lmIds, batch.lmMask);
          expect(full.keys?.length).toBe(pass1.keys.length);
          pass1.keys.forEach((k, l) => {
            expectClose("pass-1 K", `layer ${l} pass-1 keys (forward)`, (full.keys as tf.Tensor[])[l] as tf.Tensor, k);
            expectClose(
              "pass-1 V",
              `layer ${l} pass-1 values (forward)`,
              full.values?.[l] as tf.Tensor,
              pass1.values[l]!,
            );
            expectClose("pass-1 K", `layer ${l} pass-1 keys (keyValues)`, only.keys[l] as tf.Tensor, k);
            expectClose(
              "pass-1 V",
              `layer ${l} pass-1 values (keyValues)`,
              only.values[l] as tf.Tensor,
              pass1.values[l]!,
            );
          });
          expectScalarClose("pass-1 loss", "pass-1 loss", full.loss, pass1.loss);
        });
      });

      it("the in-batch term of every layer from the golden Q, K, V and W, for every implementation", () => {
        for (const implementation of IMPLEMENTATIONS) {
          tf.tidy(() => {
            g.inbatch_terms.forEach((term, l) => {
              const ours = crossDocumentAttention(
                fromGolden(g.pass2_queries[l]!),
                fromGolden(pass1.keys[l]!),
                fromGolden(pass1.values[l]!),
                fromGolden(g.weights),
                {
                  implementation,
                  keyPaddingMask: keyMask,
                  valueNorm: g.valueNorm,
                  ...(implementation === "topk" ? { topK: b - 1 } : {}),
                },
              );
              expectClose(`in-batch term (${implementation})`, `${implementation}: layer ${l} term`, ours, term);
            });
          });
        }
      });

      const small = g.inbatch_terms_small_values;
      if (small) {
        it("V-norm with small values (where its ε matters): the in-batch term from the golden Q, K, W and V × scale", () => {
          for (const implementation of IMPLEMENTATIONS) {
            tf.tidy(() => {
              small.forEach((term, l) => {
                const ours = crossDocumentAttention(
                  fromGolden(g.pass2_queries[l]!),
                  fromGolden(pass1.keys[l]!),
                  tf.mul(fromGolden(pass1.values[l]!), g.small_values_scale as number),
                  fromGolden(g.weights),
                  {
                    implementation,
                    keyPaddingMask: keyMask,
                    valueNorm: true,
                    ...(implementation === "topk" ? { topK: b - 1 } : {}),
                  },
                );
                const what = `${implementation}: layer ${l} term, values × ${g.small_values_scale}`;
                expectClose(`in-batch term, small values (${implementation})`, what, ours, term);
              });
            });
          }
        });
      }

      it("pass 2 inside revelaLmLoss with the golden W: every layer's queries and in-batch term, and the losses", () => {
        for (const implementation of IMPLEMENTATIONS) {
          const record = recordPass2(models.lm);
          tf.tidy(() => {
            const out = revelaLmLoss(models.lm, batch, fromGolden(g.weights), options(implementation));
            g.inbatch_terms.forEach((term, l) => {
              const at = `${implementation}: layer ${l}`;
              const shape = record.shapes[l] as number[];
              expectClose(
                "pass-2 Q",
                `${at} pass-2 queries`,
                tf.tensor(record.queries[l]!, shape),
                g.pass2_queries[l]!,
              );
              expectClose(
                `in-batch term in the step (${implementation})`,
                `${at} term`,
                tf.tensor(record.terms[l]!, shape),
                term,
              );
            });
            expectScalarClose("pass-2 loss", `${implementation}: pass-2 loss`, out.pass2Loss, g.pass2_loss);
            if (g.dualLoss)
              expectScalarClose("pass-1 loss", `${implementation}: pass-1 loss`, out.pass1Loss, g.pass1_loss);
            else expect(out.pass1Loss, "pass-1 loss without dualLoss").toBeUndefined();
            expectScalarClose("loss", `${implementation}: loss`, out.loss, g.loss);
          });
          // The wrapper is an own property shadowing the class method.
          delete (models.lm as { forward?: unknown }).forward;
        }
      });

      it("dL/dW with W as an input of revelaLmLoss, for every implementation", () => {
        const w = tf.variable(fromGolden(g.weights), true);
        for (const implementation of IMPLEMENTATIONS) {
          const { value, grads } = tf.variableGrads(
            () => revelaLmLoss(models.lm, batch, w, options(implementation)).loss,
            [w],
          );
          const dw = grads[w.name] as tf.Tensor;
          const what = `${implementation}: dL/dW`;
          if (implementation !== "topk") {
            expectClose("dL/dW", what, dw, g.dloss_dweights);
          } else {
            // topk differentiates only the pairs it keeps (k = B − 1 per row, chosen by W): every pair
            // with W_ij > 0 is kept; a pair with W_ij = 0 may be kept (golden value) or not (exactly 0).
            const ours = dw.dataSync();
            const expected = g.dloss_dweights.values.map((golden, n) =>
              Math.fround(g.weights.values[n] as number) > 0 || ours[n] !== 0 ? golden : 0,
            );
            expectClose("dL/dW", what, dw, { shape: g.dloss_dweights.shape, values: expected });
          }
          expectScalarClose("loss", `${implementation}: loss (W as input)`, value, g.loss);
          tf.dispose([value, grads]);
        }
        w.dispose();
      });

      const grads = g.grads;
      if (grads) {
        it("the retriever's backprop from the golden dL/dS (S reaches the loss only through W)", () => {
          const vars = trainedVariables(models.retrieverModel);
          const ds = fromGolden({ shape: g.weights.shape, values: similarityGradient(g) });
          const { value, grads: ours } = frugalVariableGrads(() => {
            const q = models.retriever.embed(batch.queryIds, batch.queryMask);
            const p = models.retriever.embed(batch.passageIds, batch.passageMask);
            return tf.sum(tf.mul(tf.matMul(q, p, false, true), ds)) as tf.Scalar;
          }, [...vars.values()]);
          for (const [paramName, v] of vars) {
            const kind = `retriever ${g.lora ? "LoRA" : "weight"} gradients from the golden dL/dS`;
            expectClose(
              kind,
              `gradient of retriever ${paramName}`,
              ours[v.name] as tf.Tensor,
              grads.retriever[paramName]!,
            );
          }
          tf.dispose([value, ours, ds]);
        });
      }

      it("revelaLoss end to end: W, the losses, and the gradient of every trained parameter", () => {
        const retrieverVars = trainedVariables(models.retrieverModel);
        const lmVars = trainedVariables(models.lm);
        if (g.grads) {
          expect([...retrieverVars.keys()].sort(), "retriever parameters with a golden gradient").toEqual(
            Object.keys(g.grads.retriever).sort(),
          );
          expect([...lmVars.keys()].sort(), "LM parameters with a golden gradient").toEqual(
            Object.keys(g.grads.lm).sort(),
          );
        }
        for (const implementation of IMPLEMENTATIONS) {
          // Read inside the step: without dualLoss the loss is the pass-2 loss tensor itself.
          let pass2 = Number.NaN;
          let weights: ArrayLike<number> = [];
          const step = () => {
            const out = revelaLoss(models.retriever, models.lm, batch, options(implementation));
            pass2 = out.pass2Loss.dataSync()[0] as number;
            weights = out.weights.dataSync();
            return out.loss;
          };
          if (!g.grads) {
            const loss = tf.tidy(step);
            expectScalarClose("loss", `${implementation}: revelaLoss loss`, loss, g.loss);
            tf.dispose(loss);
          } else {
            const all = [...retrieverVars.values(), ...lmVars.values()];
            const { value, grads } = frugalVariableGrads(step, all);
            expectScalarClose("loss", `${implementation}: revelaLoss loss`, value, g.loss);
            for (const [who, vars, golden] of [
              ["retriever", retrieverVars, g.grads.retriever],
              ["LM", lmVars, g.grads.lm],
            ] as const) {
              // The retriever's own backprop is checked at TOLERANCE from the golden dL/dS (test above);
              // here its input dL/dS carries the float32 error of dL/dW and W magnified by the softmax's cancellation.
              const tolerance = who === "retriever" ? TOLERANCE * softmaxCancellation(g) : TOLERANCE;
              for (const [paramName, v] of vars) {
                const grad = grads[v.name];
                expect(grad, `${implementation}: gradient of ${who} ${paramName}`).toBeDefined();
                const kind = `${who} ${g.lora ? "LoRA" : "weight"} gradients`;
                const what = `${implementation}: gradient of ${who} ${paramName}`;
                expectClose(kind, what, grad as tf.Tensor, golden[paramName]!, tolerance);
              }
            }
            tf.dispose([value, grads]);
          }
          tf.tidy(() => {
            expectScalarClose(
              "pass-2 loss",
              `${implementation}: revelaLoss pass-2 loss`,
              tf.scalar(pass2),
              g.pass2_loss,
            );
            expectClose(
              `W (τ = ${g.temperature})`,
              `${implementation}: revelaLoss W`,
              tf.tensor(weights, [b, b]),
              g.weights,
            );
          });
        }
      });
    });
  }
}

afterAll(() => {
  const lines = [...worst.entries()].map(([kind, e]) => `  ${kind.padEnd(56)} ${e.toExponential(2)}`);
  console.log(`largest relative error against PyTorch (tolerance ${TOLERANCE}):\n${lines.join("\n")}`);
});
