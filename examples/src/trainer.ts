import { initBackend } from "@revela/kernels";
import { CausalLM, Tokenizer } from "@revela/language-model";
import { DenseEncoder } from "@revela/retriever";
import { ConsecutiveBatcher, chunkCorpus, RevelaTrainer, readJsonlCorpus, runTraining } from "@revela/trainer";

await initBackend();
const tok = await Tokenizer.fromDir("./tokenizer"); // tokenizer.json + tokenizer_config.json
const cfg = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: tok.vocabSize,
  hidden_size: 128,
  intermediate_size: 344,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};
const lm = CausalLM.create(cfg),
  backbone = CausalLM.create(cfg, { seed: 1, backbone: true });
const retriever = new DenseEncoder(backbone, tok, { maxLength: 256 });
const chunks = await chunkCorpus(readJsonlCorpus("./corpus.jsonl"), { maxWords: 120 }); // {"id", "text"} lines
const trainer = new RevelaTrainer({
  retriever,
  retrieverModel: backbone,
  lm,
  maxLmTokens: 160,
  retrieverLr: 1e-4,
  lmLr: 1e-4,
  weightDecay: 0.01,
  maxGradNorm: 1,
  freezeLm: false,
  loss: { temperature: 1e-4, implementation: "streaming", topK: 2, valueNorm: true, dualLoss: false },
  tokenizers: {
    lmEncode: (t) => tok.encode(t),
    lmEosTokenId: tok.eosTokenId,
    lmPadTokenId: tok.padTokenId,
    retrieverTokenize: (t, k, o) => retriever.tokenize(t, k, o),
    retrieverPadTokenId: tok.padTokenId,
  },
});
await runTraining({
  runDir: "runs/revela",
  config: {},
  trainer,
  batches: new ConsecutiveBatcher(chunks, { batchSize: 16 }),
  steps: 1000,
  resume: "latest",
});
