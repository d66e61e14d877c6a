import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "@revela/kernels";
import {
  CausalLM,
  enableLora,
  greedyGenerate,
  loadPretrained,
  parseLoraConfig,
  saveLoraAdapter,
  saveModel,
  Tokenizer,
} from "@revela/language-model";
import { loadRetriever, saveRetriever } from "@revela/retriever";
import { LLAMA3_DIR, tinyRetriever } from "@revela/test-fixtures";
import { readMetricSeries } from "@revela/trainer";
import * as tf from "@tensorflow/tfjs";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
/** Each example file and the README whose `## Example` block it must equal. */
const EXAMPLES = [
  { file: "src/eval.ts", readme: "packages/eval/README.md" },
  { file: "src/textData.ts", readme: "packages/text-data/README.md" },
  { file: "src/kernels.ts", readme: "packages/kernels/README.md" },
  { file: "src/inbatchAttention.ts", readme: "packages/inbatch-attention/README.md" },
  { file: "src/vectorStore.ts", readme: "packages/vector-store/README.md" },
  { file: "src/languageModel.ts", readme: "packages/language-model/README.md" },
  { file: "src/retriever.ts", readme: "packages/retriever/README.md" },
  { file: "src/trainer.ts", readme: "packages/trainer/README.md" },
];

const scratch = mkdtempSync(path.join(tmpdir(), "revela-examples-"));
const cwd = process.cwd();
afterEach(() => {
  process.chdir(cwd);
  vi.restoreAllMocks();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs an example module in `dir` (its paths are relative) and returns what it printed. */
async function runExample(file: string, dir: string): Promise<unknown[][]> {
  const printed: unknown[][] = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    printed.push(args);
  });
  process.chdir(dir);
  await import(path.join(here, "..", file));
  return printed;
}

/**
 * A random model over the whole Llama-3 vocabulary (d 16, one layer: the example's checkpoint folder
 * without downloaded weights) in `modelDir` with the Llama-3 tokenizer files, and a PEFT LoRA adapter
 * for it in `adapterDir` whose B matrices are not zero (as a trained adapter's are not), so that it
 * changes what the model computes.
 */
async function tinyCheckpoint(modelDir: string, adapterDir: string, options: { backbone: boolean }): Promise<void> {
  await initBackend({ backend: "wasm" });
  mkdirSync(modelDir, { recursive: true });
  for (const file of ["tokenizer.json", "tokenizer_config.json"]) {
    copyFileSync(path.join(LLAMA3_DIR, file), path.join(modelDir, file));
  }
  const tokenizer = await Tokenizer.fromDir(modelDir);
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: tokenizer.vocabSize,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 64,
    eos_token_id: tokenizer.eosTokenId,
  };
  const model = CausalLM.create(config, { seed: 3, backbone: options.backbone });
  await saveModel(model, modelDir);
  const lora = parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: ["q_proj", "v_proj"] }, "test");
  enableLora(model, lora, { seed: 4 });
  let seed = 5;
  for (const { b } of model.lora.values()) b.assign(tf.randomNormal(b.shape, 0, 0.5, "float32", seed++));
  await saveLoraAdapter(model, adapterDir, lora);
  model.dispose();
}

describe("README examples", () => {
  it.each(EXAMPLES)("$file is the ts block under '## Example' in $readme, to the character", ({ file, readme }) => {
    const text = readFileSync(path.join(repo, readme), "utf8");
    const block = /## Example[\s\S]*?```ts\n([\s\S]*?)```/.exec(text)?.[1];
    expect(block).toBeDefined();
    expect(readFileSync(path.join(here, "..", file), "utf8")).toBe(block);
  });

  it("text-data: reports the line with invalid UTF-8 and refuses none of the valid JSON", async () => {
    const dir = path.join(scratch, "text-data");
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, "corpus.jsonl"),
      Buffer.concat([Buffer.from('{"_id": "a"}\n{"_id": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n\n')]),
    );
    const printed = await runExample("src/textData.ts", dir);
    expect(printed).toEqual([["corpus.jsonl:2: invalid UTF-8 on 1 line(s) (2); the bad bytes were read as U+FFFD"]]);
  });

  it("eval: BM25 finds each query's document on a small BEIR folder; the fused run is evaluated too", async () => {
    const dir = path.join(scratch, "eval");
    const data = path.join(dir, "data", "scifact");
    mkdirSync(path.join(data, "qrels"), { recursive: true });
    const docs = [
      ["d1", "Aspirin", "aspirin thins the blood and lowers the risk of stroke"],
      ["d2", "Vitamin D", "vitamin d deficiency is common in northern winters"],
      ["d3", "Sleep", "sleep loss impairs memory consolidation in adults"],
      ["d4", "Coffee", "caffeine raises alertness but may disturb sleep"],
      ["d5", "Exercise", "aerobic exercise improves cardiovascular fitness"],
    ];
    writeFileSync(
      path.join(data, "corpus.jsonl"),
      docs.map(([id, title, text]) => JSON.stringify({ _id: id, title, text })).join("\n"),
    );
    writeFileSync(
      path.join(data, "queries.jsonl"),
      [
        { _id: "q1", text: "does aspirin lower stroke risk" },
        { _id: "q2", text: "vitamin d deficiency in winter" },
      ]
        .map((q) => JSON.stringify(q))
        .join("\n"),
    );
    writeFileSync(path.join(data, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
    const printed = await runExample("src/eval.ts", dir);
    expect(printed).toHaveLength(2);
    const [bm25, fused] = printed.map((args) => args[0] as Record<string, number>);
    expect(bm25?.["NDCG@10"]).toBe(1);
    expect(fused?.["NDCG@10"]).toBeGreaterThan(0);
    expect(fused?.["NDCG@10"]).toBeLessThanOrEqual(1);
  });

  it("kernels: starts a backend, reports it, and runs attention with RoPE and the cross-entropy", async () => {
    const printed = await runExample("src/kernels.ts", scratch);
    expect(printed).toHaveLength(2);
    expect(String(printed[0]?.[0])).toMatch(/wasm|cpu|tensorflow/);
    expect(printed[1]?.[0]).toEqual([2, 8, 16, 32]);
    // Random logits over 100 classes: a cross-entropy near ln 100 plus the spread of the logits.
    const loss = printed[1]?.[1] as number;
    expect(Number.isFinite(loss) && loss > 0).toBe(true);
  });

  it("inbatch-attention: W has a zero diagonal and rows that sum to 1; the term has q's shape", async () => {
    const printed = await runExample("src/inbatchAttention.ts", scratch);
    expect(printed).toHaveLength(1);
    const [shape, row] = printed[0] as [number[], string[]];
    expect(shape).toEqual([4, 8, 16, 32]);
    expect(row).toHaveLength(4);
    expect(row[0]).toBe("0.000");
    expect(row.reduce((s, x) => s + Number(x), 0)).toBeCloseTo(1, 2);
  });

  it("vector-store: upserts two passages into an embedded database and finds one for the query", async () => {
    const dir = path.join(scratch, "vector-store");
    const texts = ["Paris is the capital of France.", "Dense retrievers learn from language modeling."];
    const retriever = await tinyRetriever([...texts, "What is the capital of France?"], { seed: 1 });
    await saveRetriever(retriever, path.join(dir, "revela-output", "retriever"));
    retriever.dispose();
    const printed = await runExample("src/vectorStore.ts", dir);
    expect(printed).toHaveLength(1);
    // A random retriever: either passage may rank first, with its text.
    const [hit, ...rest] = printed[0]![0] as { id: string; score: number; text: string }[];
    expect(rest).toEqual([]);
    expect(texts[Number(hit?.id.slice(1))]).toBe(hit?.text);
    expect(Number.isFinite(hit?.score)).toBe(true);
  });

  it("language-model: logits [1, L, V] and the adapted model's loss, and a greedy continuation", async () => {
    const dir = path.join(scratch, "language-model");
    const modelDir = path.join(dir, "SmolLM2-135M");
    const adapterDir = path.join(dir, "my-lora");
    await tinyCheckpoint(modelDir, adapterDir, { backbone: false });
    const printed = await runExample("src/languageModel.ts", dir);
    expect(printed).toHaveLength(1);
    const [shape, loss, text] = printed[0] as [number[], number, string];
    const tokenizer = await Tokenizer.fromDir(modelDir);
    const batch = tokenizer.encodeBatch(["The capital of France is"], { maxLength: 32, appendEos: false });
    expect(shape).toEqual([1, batch.seqLen, tokenizer.vocabSize]);
    expect(Number.isFinite(loss) && loss > 0).toBe(true);
    // The printed loss is the adapted model's: the same forward pass here, with and without the adapter.
    const run = async (adapter: boolean) => {
      const model = await loadPretrained(modelDir, adapter ? { adapter: adapterDir } : {});
      const value = tf.tidy(() => {
        const ids = tf.tensor2d(batch.inputIds, [1, batch.seqLen], "int32");
        const mask = tf.tensor2d(batch.attentionMask, [1, batch.seqLen], "int32");
        return model.forward(ids, mask, { computeLoss: true }).loss!.dataSync()[0] as number;
      });
      const continuation = tokenizer.decode(greedyGenerate(model, tokenizer.encode("Paris is"), { maxNewTokens: 8 }));
      model.dispose();
      return { loss: value, continuation };
    };
    const adapted = await run(true);
    expect(loss).toBeCloseTo(adapted.loss, 4);
    expect(Math.abs(loss - (await run(false)).loss)).toBeGreaterThan(1e-4);
    // Greedy decoding is deterministic: the same tokens again.
    expect(text).toBe(adapted.continuation);
  });

  it("retriever: the hit is the passage with the larger inner product with the query, and its score", async () => {
    const dir = path.join(scratch, "retriever");
    const model = path.join(dir, "Llama-3.2-1B");
    const adapter = path.join(dir, "Revela-1b");
    await tinyCheckpoint(model, adapter, { backbone: true });
    const printed = await runExample("src/retriever.ts", dir);
    expect(printed).toHaveLength(1);
    const [ids, scores] = printed[0] as [string[], Float32Array];
    const retriever = await loadRetriever({ model, adapter });
    const docs = await retriever.encodePassages([
      "Paris is the capital of France.",
      "Dense retrievers learn from language modeling.",
    ]);
    const query = await retriever.encodeQueries(["What is the capital of France?"]);
    retriever.dispose();
    const d = query.shape[1];
    const dots = [0, 1].map((row) => query.data.reduce((s, q, k) => s + q * docs.data[row * d + k]!, 0));
    const best = dots[1]! > dots[0]! ? 1 : 0;
    expect(ids).toEqual([`d${best + 1}`]);
    expect(scores).toHaveLength(1);
    expect(scores[0]).toBeCloseTo(dots[best]!, 4);
    // Unit vectors: a cosine.
    expect(Math.abs(scores[0]!)).toBeLessThanOrEqual(1 + 1e-5);
  });

  it("trainer: trains from a JSONL corpus and a Hugging Face tokenizer, stops on Ctrl-C with a checkpoint, resumes", async () => {
    const dir = path.join(scratch, "trainer");
    mkdirSync(path.join(dir, "tokenizer"), { recursive: true });
    // Sixteen one-chunk documents over a small vocabulary.
    const subjects = ["the cell", "the river", "a star", "the protein"];
    const verbs = ["divides", "floods", "forms", "binds"];
    const objects = ["in spring", "under gravity", "at the membrane", "after the snow melts"];
    const documents = Array.from({ length: 16 }, (_, i) => ({
      id: `doc${i}`,
      text: `${subjects[i % 4]} ${verbs[(i >> 2) % 4]} ${objects[(i + (i >> 2)) % 4]} .`,
    }));
    writeFileSync(path.join(dir, "corpus.jsonl"), documents.map((doc) => JSON.stringify(doc)).join("\n"));
    // A word-level Hugging Face tokenizer over those words and the query/passage prefixes.
    const words = [...new Set(documents.flatMap((doc) => doc.text.split(" ")).concat(["query", "passage", ":"]))];
    const vocab = Object.fromEntries(["<pad>", "</s>", "<unk>", ...words].map((w, i) => [w, i]));
    const special = (id: number, content: string) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    writeFileSync(
      path.join(dir, "tokenizer", "tokenizer.json"),
      JSON.stringify({
        version: "1.0",
        added_tokens: [special(0, "<pad>"), special(1, "</s>")],
        normalizer: { type: "Lowercase" },
        pre_tokenizer: { type: "Whitespace" },
        post_processor: null,
        decoder: { type: "WordPiece", prefix: "##", cleanup: true },
        model: { type: "WordLevel", vocab, unk_token: "<unk>" },
      }),
    );
    writeFileSync(
      path.join(dir, "tokenizer", "tokenizer_config.json"),
      JSON.stringify({ eos_token: "</s>", pad_token: "<pad>" }),
    );
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const runDir = path.join(dir, "runs", "revela");
    const metrics = path.join(runDir, "metrics.jsonl");
    const loggedSteps = () => {
      try {
        return readFileSync(metrics, "utf8").split("\n").filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    /** Runs the example (1,000 steps) and presses Ctrl-C once `steps` steps are logged. */
    const runUntil = async (steps: number, file: string) => {
      const watch = setInterval(() => {
        if (loggedSteps() < steps) return;
        clearInterval(watch);
        process.emit("SIGINT");
      }, 20);
      try {
        await runExample(file, dir);
      } finally {
        clearInterval(watch);
      }
    };
    const check = () => {
      const losses = readMetricSeries(runDir, "loss");
      const steps = losses.length;
      expect(losses.map((p) => p.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
      for (const { value } of losses) expect(Number.isFinite(value) && value > 0).toBe(true);
      // Stopped by Ctrl-C: a checkpoint of the last step logged.
      expect(readdirSync(path.join(runDir, "checkpoints"))).toContain(`step-${String(steps).padStart(8, "0")}`);
      return losses;
    };
    await runUntil(2, "src/trainer.ts");
    const first = check();
    expect(first.length).toBeGreaterThanOrEqual(2);
    expect(first.length).toBeLessThan(1000);
    // resume: "latest" continues from that checkpoint: the steps before it stay as they were.
    await runUntil(first.length + 2, "src/trainer.ts?resumed");
    const second = check();
    expect(second.length).toBeGreaterThanOrEqual(first.length + 2);
    expect(second.slice(0, first.length)).toEqual(first);
  });
});
