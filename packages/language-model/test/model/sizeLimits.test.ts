import { cp, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CausalLM, loadLoraAdapter, loadPretrained, parseModelConfig } from "../../src/index.js";
import { readGoldens } from "../support/goldens.js";

/**
 * A corrupt or hostile config.json must fail naming the field before anything is allocated:
 * `num_hidden_layers: 1000000000` used to run V8 out of memory (4.8 GB, exit 134) building the
 * parameter list, and a checkpoint that disagrees with its config was read whole before the two
 * were compared.
 */

let scratch: string;
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  scratch = await mkdtemp(join(tmpdir(), "revela-lm-limits-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const llama = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 100,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
};

/** A copy of a golden checkpoint whose config.json has `changes`. */
async function checkpointWith(name: string, changes: Record<string, unknown>): Promise<string> {
  const { dir } = readGoldens(name);
  const copy = await mkdtemp(join(scratch, `${name}-`));
  await cp(dir, copy, { recursive: true });
  const config = { ...JSON.parse(await readFile(join(dir, "config.json"), "utf8")), ...changes };
  await writeFile(join(copy, "config.json"), JSON.stringify(config));
  return copy;
}

describe("config.json sizes are bounded", () => {
  it("refuses every size past its bound, naming the field and the bound", () => {
    const cases: [string, number, RegExp][] = [
      [
        "num_hidden_layers",
        1_000_000_000,
        /field "num_hidden_layers" must be an integer from 1 to 1024, got 1000000000/,
      ],
      ["vocab_size", 2 ** 40, /field "vocab_size" must be an integer from 1 to 4194304/],
      ["hidden_size", 1 << 20, /field "hidden_size" must be an integer from 1 to 65536/],
      ["intermediate_size", 1 << 30, /field "intermediate_size" must be an integer from 1 to 262144/],
      ["num_attention_heads", 1 << 20, /field "num_attention_heads" must be an integer from 1 to 1024/],
      ["max_position_embeddings", 2 ** 40, /field "max_position_embeddings" must be an integer from 1 to 16777216/],
    ];
    for (const [field, value, message] of cases) {
      expect(() => parseModelConfig({ ...llama, [field]: value }, "big/config.json"), field).toThrow(message);
    }
    expect(() =>
      parseModelConfig({ ...llama, vocab_size: 4_000_000, hidden_size: 4096, num_attention_heads: 32 }),
    ).toThrow(/vocab_size × hidden_size = 16384000000 elements in one tensor; at most 2147483647/);
  });

  it("refuses a from-scratch model larger than the machine's memory before allocating it", () => {
    const huge = {
      ...llama,
      vocab_size: 128_256,
      hidden_size: 16_384,
      intermediate_size: 53_248,
      num_hidden_layers: 1000,
      num_attention_heads: 128,
      num_key_value_heads: 8,
    };
    expect(() => CausalLM.create(huge)).toThrow(
      /CausalLM\.create: the config's parameters need \d+\.\d GiB of float32 \(.*num_hidden_layers 1000.*\), more than this machine's/,
    );
  });

  it("loadPretrained names the field of an absurd num_hidden_layers", async () => {
    const dir = await checkpointWith("tiny-llama", { num_hidden_layers: 1_000_000_000 });
    await expect(loadPretrained(dir)).rejects.toThrow(
      /config\.json: field "num_hidden_layers" must be an integer from 1 to 1024/,
    );
  });

  it("loadPretrained compares config and checkpoint before reading tensor data", async () => {
    const layers = await checkpointWith("tiny-llama", { num_hidden_layers: 3 });
    await expect(loadPretrained(layers)).rejects.toThrow(
      /parameters do not match LlamaForCausalLM with num_hidden_layers 3 \(\d+ tensors expected, \d+ found\); missing: model\.layers\.2\./,
    );
    const wide = await checkpointWith("tiny-llama", { intermediate_size: 96 });
    await expect(loadPretrained(wide)).rejects.toThrow(
      /tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[48, 32\], expected \[96, 32\] from the config/,
    );
  });

  it("reads no tensor data of a checkpoint that does not match its config", async () => {
    // A checkpoint whose one tensor is 1 GB (a sparse file: no disk, no memory until read) next to
    // a config it does not match. Reading it first would raise the peak RSS by a gigabyte.
    const sparse = await mkdtemp(join(scratch, "sparse-"));
    await writeFile(join(sparse, "config.json"), JSON.stringify({ ...llama, tie_word_embeddings: true }));
    const bytes = 1_000_000 * 256 * 4;
    const header = new TextEncoder().encode(
      JSON.stringify({
        "model.embed_tokens.weight": { dtype: "F32", shape: [1_000_000, 256], data_offsets: [0, bytes] },
      }),
    );
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    const fh = await open(join(sparse, "model.safetensors"), "w");
    await fh.write(prefix);
    await fh.write(header);
    await fh.truncate(8 + header.length + bytes);
    await fh.close();
    const peakBefore = process.resourceUsage().maxRSS; // KiB
    await expect(loadPretrained(sparse)).rejects.toThrow(/parameters do not match .*missing: model\.layers\.0\./);
    const grownMiB = (process.resourceUsage().maxRSS - peakBefore) / 1024;
    expect(grownMiB).toBeLessThan(256);
  });
});

describe("LoRA adapters are checked against the model before anything is allocated", () => {
  it("refuses an absurd rank naming the field", async () => {
    const { dir } = readGoldens("tiny-llama");
    const adapter = await mkdtemp(join(scratch, "adapter-rank-"));
    await cp(join(dir, "lora"), adapter, { recursive: true });
    const config = JSON.parse(await readFile(join(adapter, "adapter_config.json"), "utf8"));
    await writeFile(join(adapter, "adapter_config.json"), JSON.stringify({ ...config, r: 1_000_000_000 }));
    const model = await loadPretrained(dir);
    await expect(loadLoraAdapter(model, adapter)).rejects.toThrow(
      /adapter_config\.json: field "r" must be an integer from 1 to 65536, got 1000000000/,
    );
    model.dispose();
  });

  it("a rank that does not match the tensors fails on the header, leaving the model without adapters and memory as it was", async () => {
    const { dir } = readGoldens("tiny-llama");
    const adapter = await mkdtemp(join(scratch, "adapter-mismatch-"));
    await cp(join(dir, "lora"), adapter, { recursive: true });
    const config = JSON.parse(await readFile(join(adapter, "adapter_config.json"), "utf8"));
    await writeFile(join(adapter, "adapter_config.json"), JSON.stringify({ ...config, r: 8 }));
    const model = await loadPretrained(dir);
    const before = tf.memory().numTensors;
    await expect(loadLoraAdapter(model, adapter)).rejects.toThrow(
      /adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.\d\.[a-z_.]+\.lora_A\.weight" has shape \[4, (\d+)\], expected \[8, \1\] \(r = 8\)/,
    );
    expect(model.lora.size).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
