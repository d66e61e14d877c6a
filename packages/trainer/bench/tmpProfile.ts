import { initBackend } from "@revela/kernels";
import { CausalLM } from "@revela/language-model";
import { profileRevelaStep, byKernelName } from "./revelaStepBenchmark.js";
const cfg = { architectures: ["LlamaForCausalLM"], model_type: "llama", vocab_size: 8192, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 128 };
await initBackend();
const lm = CausalLM.create(cfg, { seed: 0 });
const retrieverModel = CausalLM.create(cfg, { seed: 1, backbone: true });
const impl = (process.argv[2] ?? "streaming") as "streaming";
const p = await profileRevelaStep({ lm, retrieverModel, batchSize: 16, seqLen: 128, topK: 2, temperature: 1e-4 }, impl);
for (const part of ["forward", "backward"] as const) {
  const rows = p[part];
  let small = 0, smallG = 0, smallN = 0, big = 0, bigG = 0, other = 0;
  for (const r of rows) {
    if (r.gflop > 0 && r.products > r.calls) { small += r.ms; smallG += r.gflop; smallN += r.products; }
    else if (r.gflop > 0) { big += r.ms; bigG += r.gflop; }
    else other += r.ms;
  }
  console.log(part, `batched ${small.toFixed(0)} ms ${smallG.toFixed(1)} GF ${smallN} products; weight-like ${big.toFixed(0)} ms ${bigG.toFixed(1)} GF; others ${other.toFixed(0)} ms`);
  for (const r of rows) if (process.argv[3] === "all" || r.ms > 15) console.log(part.slice(0,3), r.ms.toFixed(0).padStart(5), String(r.calls).padStart(4), r.gflop.toFixed(2), r.products, r.kernel);
}
