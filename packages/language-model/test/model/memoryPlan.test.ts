import { initBackend, WASM_MAX_HEAP_BYTES } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CausalLM,
  checkRunMemory,
  enableLora,
  estimateRunMemory,
  parseLoraConfig,
  parseModelConfig,
  RunMemoryError,
} from "../../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

const projections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
const lora = (r: number) =>
  parseLoraConfig({ r, lora_alpha: 64, lora_dropout: 0.1, target_modules: projections }, "test");

/** Qwen2.5-0.5B's published config.json (the fields that size it). */
const qwen05 = parseModelConfig(
  {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    vocab_size: 151936,
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    max_position_embeddings: 32768,
    tie_word_embeddings: true,
    rope_theta: 1000000,
  },
  "qwen2.5-0.5b config.json",
);

describe("estimateRunMemory", () => {
  it("counts the LM head's kept softmax exactly when the loss keeps it: by the batch's shape, B·(L − 1)·V ≤ 2²⁵", () => {
    const reference = parseModelConfig({
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: 8192,
      hidden_size: 256,
      intermediate_size: 688,
      num_hidden_layers: 4,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      max_position_embeddings: 128,
    });
    const shape = (batch: number) => ({
      lora: null,
      sharedBase: false,
      train: { batch, lmTokens: 128, retrieverTokens: 128 },
      encode: null,
    });
    const softmax = (e: ReturnType<typeof estimateRunMemory>) =>
      e.trainingStep.find((i) => i.name === "LM head softmax");
    expect(softmax(estimateRunMemory(reference, shape(16)))?.bytes).toBe(16 * 127 * 8192 * 4);
    // B 33: 33·127·8192 floats pass 2²⁵, so the loss recomputes and nothing is counted.
    expect(softmax(estimateRunMemory(reference, shape(33)))).toBeUndefined();
    expect(softmax(estimateRunMemory(qwen05, shape(16)))).toBeUndefined();
  });

  it("counts the parameters a model holds: weights as CausalLM allocates them, adapters as enableLora adds them", () => {
    const config = parseModelConfig({
      architectures: ["Qwen2ForCausalLM"],
      model_type: "qwen2",
      vocab_size: 50,
      hidden_size: 16,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 32,
      tie_word_embeddings: true,
    });
    const start = tf.memory().numBytes;
    const lm = CausalLM.create(config, { seed: 1 });
    const lmWeights = tf.memory().numBytes - start;
    enableLora(lm, lora(4));
    const lmAdapters = tf.memory().numBytes - start - lmWeights;
    const retriever = CausalLM.create(config, { seed: 2, backbone: true });
    enableLora(retriever, lora(4));
    const all = tf.memory().numBytes - start;
    const shape = { lora: lora(4), train: null, encode: null };
    const twoCopies = estimateRunMemory(config, { ...shape, sharedBase: false });
    const byName = (e: typeof twoCopies, name: string) => e.held.find((i) => i.name === name)?.bytes;
    expect((byName(twoCopies, "base weights") ?? 0) + (byName(twoCopies, "LoRA adapters") ?? 0)).toBe(all);
    const shared = estimateRunMemory(config, { ...shape, sharedBase: true });
    expect(byName(shared, "base weights")).toBe(lmWeights);
    expect(byName(shared, "LoRA adapters")).toBe(2 * lmAdapters);
    lm.dispose();
    retriever.dispose();
  });

  it("trained parameters are the adapters only with LoRA, and every weight without", () => {
    const train = { batch: 16, lmTokens: 156, retrieverTokens: 157 };
    const withLora = estimateRunMemory(qwen05, { lora: lora(256), sharedBase: true, train, encode: null });
    // Qwen2.5-0.5B, r 256 on the 7 projections: 5,865,472 adapter parameters per layer and model.
    expect(withLora.parameters.trained).toBe(2 * 24 * 5_865_472);
    expect(withLora.parameters.base).toBe(494_032_768);
    const full = estimateRunMemory(qwen05, { lora: null, sharedBase: false, train, encode: null });
    // Tied embeddings: the retriever's embedding table is its own copy, trained too.
    expect(full.parameters.trained).toBe(2 * 494_032_768);
  });
});

/** SmolLM2-135M's published config.json with the Llama-2 tokenizer's 32,000-token vocabulary. */
const smollm135 = parseModelConfig(
  {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 32000,
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    max_position_embeddings: 8192,
    tie_word_embeddings: true,
    rope_theta: 100000,
  },
  "smollm2-135m config.json",
);

describe("the paper's plan (LoRA r 256, B 16, L 156) and the 4 GiB wasm heap", () => {
  const paper = (optimizerState: "host" | "heap", offloadLayers = false) => ({
    lora: lora(256),
    sharedBase: true,
    offloadLayers,
    train: { batch: 16, lmTokens: 156, retrieverTokens: 157, recompute: true },
    encode: { batch: 32, tokens: 256 },
    optimizerState,
  });

  it("takes AdamW's state off the heap: the smollm2-135m shape at r 256 with its base in the heap fits B 19 instead of B 10", () => {
    const inHeap = estimateRunMemory(smollm135, paper("heap"));
    const onHost = estimateRunMemory(smollm135, paper("host"));
    // 2 floats a trained parameter: 156,303,360 adapter parameters (both models) × 8 bytes.
    expect(onHost.host.find((i) => i.name === "optimizer state")?.bytes).toBe(156_303_360 * 8);
    expect(onHost.held.some((i) => i.name === "optimizer state")).toBe(false);
    expect(inHeap.held.find((i) => i.name === "optimizer state")?.bytes).toBe(156_303_360 * 8);
    // The state moved out, and the heap overhead on it with it.
    expect(inHeap.peakBytes - onHost.peakBytes).toBeCloseTo(1.07 * 156_303_360 * 8, -3);
    // B 7 and 13 before a recomputed layer stopped keeping q, k, v (and the in-batch term its copies
    // of the queries); B 6 and 12 before recomputed layers' backward was made frugal (issue 15).
    const largestBatch = (state: "host" | "heap") => {
      let b = 32;
      while (
        b > 1 &&
        estimateRunMemory(smollm135, { ...paper(state), train: { ...paper(state).train, batch: b } }).peakBytes >
          WASM_MAX_HEAP_BYTES
      )
        b--;
      return b;
    };
    expect(largestBatch("heap")).toBe(10);
    expect(largestBatch("host")).toBe(19);
  });

  it("counts gradients only beyond the activations they replace: none at B 16, some where the adapters outweigh the activations", () => {
    const b16 = estimateRunMemory(smollm135, paper("host"));
    expect(b16.trainingStep.find((i) => i.name === "gradients")?.bytes).toBe(0);
    // One short sequence: 156 M adapter gradients (0.58 GiB) exceed what backward frees.
    const tiny = estimateRunMemory(smollm135, {
      ...paper("host"),
      train: { batch: 2, lmTokens: 16, retrieverTokens: 17, recompute: true },
    });
    const grads = tiny.trainingStep.find((i) => i.name === "gradients")?.bytes ?? 0;
    const others = tiny.trainingStep.filter((i) => i.name !== "gradients").reduce((a, i) => a + i.bytes, 0);
    expect(grads).toBe(156_303_360 * 4 - others);
  });

  const refusal = (shape: ReturnType<typeof paper>) => {
    try {
      checkRunMemory(qwen05, shape, WASM_MAX_HEAP_BYTES, {
        limitName: "the wasm heap's maximum",
        source: "revela train --model qwen",
        fields: { batch: "train.batchSize", loraR: "model.loraR" },
      });
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };

  it("still refuses the qwen2.5-0.5b shape with its base in the heap, and names offloading the layers with its figure", () => {
    const message = refusal(paper("host"));
    expect(message).toMatch(
      /needs an estimated 6\.31 GiB at its peak, more than the wasm heap's maximum \(4\.00 GiB\)/,
    );
    expect(message).toContain("base weights 1.84 GiB (one frozen copy");
    expect(message).not.toContain("optimizer state");
    // Offloading is sized first (it costs no heap); with it the paper's B 16 fits.
    expect(message).toContain(
      "Keep the frozen decoder layers and the LoRA adapters in JavaScript memory, one layer in the heap at a time (loadPretrained's offloadLayers): 3.86 GiB, which fits.",
    );
  });

  it("with its decoder layers and adapters offloaded the qwen2.5-0.5b shape fits the paper's B 16 (3.86 GiB; measured: a 3.79 GiB heap) and no larger batch", () => {
    const estimate = checkRunMemory(qwen05, paper("host", true), WASM_MAX_HEAP_BYTES, {
      limitName: "the wasm heap's maximum",
      source: "revela train --model qwen",
    });
    expect(estimate.peakBytes / 2 ** 30).toBeCloseTo(3.86, 2);
    const item = (list: "held" | "host" | "trainingStep", name: string) =>
      estimate[list].find((i) => i.name === name) ?? { name, bytes: -1, detail: "" };
    // The adapters (1.05 GiB for both models at r 256) are in JavaScript memory; two layers' in the heap.
    expect(item("held", "LoRA adapters").bytes).toBe(-1);
    expect(item("host", "LoRA adapters").bytes).toBe(281_542_656 * 4);
    expect(item("trainingStep", "LoRA adapters in the heap").bytes).toBe(((2 * 281_542_656) / 2 / 24) * 4);
    // Embeddings (tied: also the head) and the final norm stay: 151,936 × 896 + 896 floats.
    expect(item("held", "base weights").bytes).toBe((151_936 * 896 + 896) * 4);
    expect(item("held", "base weights").detail).toBe(
      "one frozen copy shared by the LM and 1 retriever: embeddings, final norm in the heap; the 24 decoder layers offloaded to JavaScript memory",
    );
    expect(item("trainingStep", "offloaded layer in the heap").bytes).toBe(14_912_384 * 4);
    // A recomputed layer keeps its input and attention output (2·896 floats a token); the in-batch
    // term pass 2's queries (896) and pass 1's keys and values (2·128): at B 16, LM L 156 (two
    // passes) and retriever views of 157 + 80 tokens, over 24 layers.
    const lm = 16 * 156;
    const retriever = 16 * (157 + 80);
    expect(item("trainingStep", "activations").bytes).toBe(
      24 * (2 * 896 * (2 * lm + retriever) + (896 + 256) * lm) * 4,
    );
    const at = (batch: number) =>
      estimateRunMemory(qwen05, { ...paper("host", true), train: { ...paper("host", true).train, batch } }).peakBytes;
    expect(at(16)).toBeLessThanOrEqual(WASM_MAX_HEAP_BYTES);
    expect(at(17)).toBeGreaterThan(WASM_MAX_HEAP_BYTES);
  });

  it("offloading the smollm2-135m shape's layers and adapters moves 0.40 + 0.58 GiB of float32 out of the heap: B 16 at r 256 needs 2.53 GiB (3.13 GiB with the adapters in the heap)", () => {
    const resident = estimateRunMemory(smollm135, paper("host"));
    const offloaded = estimateRunMemory(smollm135, paper("host", true));
    // 30 layers × 3,540,096 parameters; the tied embedding table and the final norm stay.
    const layers = 30 * 3_540_096;
    const adapters = 156_303_360;
    expect(offloaded.parameters).toEqual({ base: resident.parameters.base, offloaded: layers, trained: adapters });
    const item = (e: typeof resident, list: "held" | "host" | "trainingStep", name: string) =>
      e[list].find((i) => i.name === name)?.bytes;
    expect(item(offloaded, "held", "base weights")).toBe((32000 * 576 + 576) * 4);
    expect(item(offloaded, "host", "offloaded base weights")).toBe(layers * 2);
    expect(item(offloaded, "trainingStep", "offloaded layer in the heap")).toBe(3_540_096 * 4);
    expect(item(resident, "host", "offloaded base weights")).toBeUndefined();
    // The adapters of both models go to JavaScript memory; two layers' of the LM's are in the heap.
    expect(item(resident, "held", "LoRA adapters")).toBe(adapters * 4);
    expect(item(offloaded, "held", "LoRA adapters")).toBeUndefined();
    expect(item(offloaded, "host", "LoRA adapters")).toBe(adapters * 4);
    expect(item(offloaded, "trainingStep", "LoRA adapters in the heap")).toBe(((2 * adapters) / 2 / 30) * 4);
    // The heap loses every layer but the one in flight, all adapters but two layers' of one model,
    // and its 10 % overhead on them.
    expect(resident.peakBytes - offloaded.peakBytes).toBeCloseTo(
      1.07 * (29 * 3_540_096 + adapters - (2 * adapters) / 2 / 30) * 4,
      -2,
    );
    expect(resident.peakBytes / 2 ** 30).toBeCloseTo(3.54, 2);
    expect(offloaded.peakBytes / 2 ** 30).toBeCloseTo(2.53, 2);
    const at = (batch: number) =>
      estimateRunMemory(smollm135, { ...paper("host", true), train: { ...paper("host", true).train, batch } })
        .peakBytes;
    expect(at(16)).toBeLessThanOrEqual(WASM_MAX_HEAP_BYTES);
    // With the adapters in the heap (keepAdaptersInJsMemory = false) the same run needs 2.53 +
    // 0.60 = 3.13 GiB. Every adapter is held, none is counted in JavaScript memory.
    const inHeap = estimateRunMemory(smollm135, { ...paper("host", true), adaptersInJsMemory: false });
    expect(item(inHeap, "held", "LoRA adapters")).toBe(adapters * 4);
    expect(item(inHeap, "host", "LoRA adapters")).toBeUndefined();
    expect(item(inHeap, "trainingStep", "LoRA adapters in the heap")).toBeUndefined();
    expect(inHeap.peakBytes - offloaded.peakBytes).toBeCloseTo(1.07 * (adapters - (2 * adapters) / 2 / 30) * 4, -2);
    expect(inHeap.peakBytes / 2 ** 30).toBeCloseTo(3.13, 2);
    // Its default follows offloadLayers.
    expect(estimateRunMemory(smollm135, { ...paper("host", true), adaptersInJsMemory: true }).peakBytes).toBe(
      offloaded.peakBytes,
    );
  });

  it("counts one more layer's adapters in the heap for each other retriever, which can leave the last layer its backward ran there", () => {
    const item = (e: ReturnType<typeof estimateRunMemory>, list: "trainingStep" | "encoding", name: string) =>
      e[list].find((i) => i.name === name)?.bytes;
    const one = estimateRunMemory(smollm135, paper("host", true));
    const two = estimateRunMemory(smollm135, { ...paper("host", true), extraRetrievers: 2 });
    // 78,151,680 adapter parameters per model, 30 layers.
    const layer = (78_151_680 / 30) * 4;
    expect(item(one, "trainingStep", "LoRA adapters in the heap")).toBe(2 * layer);
    expect(item(two, "trainingStep", "LoRA adapters in the heap")).toBe(4 * layer);
    expect(item(one, "encoding", "LoRA adapters in the heap")).toBe(layer);
    expect(item(two, "encoding", "LoRA adapters in the heap")).toBe(3 * layer);
  });

  it("checks shape.adaptersInJsMemory", () => {
    expect(() => estimateRunMemory(smollm135, { ...paper("host"), adaptersInJsMemory: true })).toThrow(
      "estimateRunMemory: shape.adaptersInJsMemory needs shape.offloadLayers — CausalLM keeps the LoRA adapters in JavaScript memory only for a model with offloaded layers",
    );
    expect(() =>
      estimateRunMemory(smollm135, { ...paper("host", true), adaptersInJsMemory: "yes" as unknown as boolean }),
    ).toThrow('estimateRunMemory: shape.adaptersInJsMemory must be true or false, got "yes"');
  });

  it("without recomputation offloading costs heap in training: the tape keeps each pass's float32 copy of every layer", () => {
    const kept = { ...paper("host", true), train: { ...paper("host").train, recompute: false } };
    const estimate = estimateRunMemory(smollm135, kept);
    expect(estimate.trainingStep.find((i) => i.name === "offloaded layers kept by the tape")?.bytes).toBe(
      4 * 30 * 3_540_096 * 4,
    );
    expect(() => estimateRunMemory(smollm135, { ...paper("host", true), lora: null })).toThrow(
      /shape\.offloadLayers needs shape\.lora/,
    );
    expect(() =>
      estimateRunMemory(smollm135, { ...paper("host", true), offloadedBytesPerParameter: 3 as never }),
    ).toThrow(/shape\.offloadedBytesPerParameter must be 2 \(BF16\/F16\) or 4 \(F32\), got 3/);
  });
});

describe("checkRunMemory", () => {
  it("refuses an oversized run before anything is allocated, naming the figure, the limit and what would fit", () => {
    const before = tf.memory();
    let error: unknown;
    try {
      checkRunMemory(
        qwen05,
        {
          lora: lora(256),
          sharedBase: false,
          train: { batch: 16, lmTokens: 156, retrieverTokens: 157 },
          encode: { batch: 32, tokens: 256 },
          optimizerState: "heap",
        },
        WASM_MAX_HEAP_BYTES,
        {
          limitName: "the wasm heap's maximum",
          source: "revela train --model /models/qwen",
          fields: { batch: "train.batchSize", loraR: "model.loraR", lmTokens: "train.maxLmTokens" },
        },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RunMemoryError);
    const message = (error as Error).message;
    expect(message).toMatch(
      /^revela train --model \/models\/qwen: this run needs an estimated [\d.]+ GiB at its peak, more than the wasm heap's maximum \(4\.00 GiB\)/,
    );
    expect(message).toContain("base weights 3.68 GiB (2 copies (LM and 1 retriever))");
    expect(message).toContain("LoRA adapters 1.05 GiB (r 256");
    expect(message).toContain("optimizer state 2.10 GiB");
    expect(message).toContain("(Qwen2ForCausalLM, hidden_size 896, 24 layers, vocab_size 151936; nothing was loaded.)");
    expect((error as RunMemoryError).estimate.peakBytes).toBeGreaterThan(WASM_MAX_HEAP_BYTES);
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({
      tensors: before.numTensors,
      bytes: before.numBytes,
    });
  });

  it("proposes offloading the layers only where it lowers the peak: not without recomputation, where the tape keeps every layer's copy", () => {
    const shape = (recompute: boolean) => ({
      lora: lora(32),
      sharedBase: true,
      train: { batch: 4, lmTokens: 156, retrieverTokens: 157, recompute },
      encode: { batch: 32, tokens: 256 },
    });
    const refusal = (recompute: boolean) => {
      try {
        checkRunMemory(smollm135, shape(recompute), 2 ** 30, { limitName: "a 1 GiB limit", source: "test" });
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    };
    const kept = shape(false);
    // Without recomputation the offloaded run needs more heap than the resident one.
    expect(estimateRunMemory(smollm135, { ...kept, offloadLayers: true }).peakBytes).toBeGreaterThan(
      estimateRunMemory(smollm135, kept).peakBytes,
    );
    expect(refusal(false)).toMatch(/^test: this run needs an estimated/);
    expect(refusal(false)).not.toContain("offloadLayers");
    expect(refusal(true)).toContain(
      "Keep the frozen decoder layers and the LoRA adapters in JavaScript memory, one layer in the heap at a time (loadPretrained's offloadLayers)",
    );
  });

  it("names the settings that would fit, each checked against the same estimate", () => {
    const shape = {
      lora: lora(256),
      sharedBase: false,
      train: null,
      encode: { batch: 512, tokens: 512 },
    };
    // Shared and offloaded (layers and adapters), the base takes 0.51 GiB of the heap and the run
    // 1.99 GiB: a limit of 1.5 GiB needs a smaller batch too.
    const limit = 1.5 * 2 ** 30;
    let message = "";
    try {
      checkRunMemory(qwen05, shape, limit, {
        limitName: "a 1.5 GiB limit",
        source: "test",
        fields: { encodeBatch: "eval.batchSize" },
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      /Share one frozen base between the LM and the retriever \(CausalLM\.withFrozenBase\) and keep the frozen decoder layers and the LoRA adapters in JavaScript memory, one layer in the heap at a time \(loadPretrained's offloadLayers\): [\d.]+ GiB; with both, each of these alone would fit: /,
    );
    const batch = Number(/eval\.batchSize (\d+) \(from 512\)/.exec(message)?.[1]);
    const shared = { ...shape, sharedBase: true, offloadLayers: true };
    expect(estimateRunMemory(qwen05, { ...shared, encode: { batch, tokens: 512 } }).peakBytes).toBeLessThanOrEqual(
      limit,
    );
    expect(
      estimateRunMemory(qwen05, { ...shared, encode: { batch: batch + 1, tokens: 512 } }).peakBytes,
    ).toBeGreaterThan(limit);
    // A run that fits returns its estimate.
    const roomy = 3.5 * 2 ** 30;
    const fits = checkRunMemory(qwen05, { ...shape, sharedBase: true, encode: { batch: 4, tokens: 256 } }, roomy, {
      limitName: "a 3.5 GiB limit",
      source: "test",
    });
    expect(fits.peakBytes).toBeLessThanOrEqual(roomy);
  });
});
