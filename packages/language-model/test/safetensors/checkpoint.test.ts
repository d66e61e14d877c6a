import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  planShards,
  readCheckpointHeaders,
  readCheckpointTensors,
  shardFileName,
  writeCheckpointTensors,
} from "../../src/safetensors/checkpoint.js";
import { readSafetensorsHeader } from "../../src/safetensors/readSafetensors.js";
import { writeSafetensors } from "../../src/safetensors/writeSafetensors.js";
import { scratchDir, seededFloats } from "./buildSafetensors.js";

let root: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir: root, cleanup } = await scratchDir()));
afterAll(() => cleanup());

/** A small LLaMA-shaped state dict, in module order as transformers would iterate it. */
function stateDict() {
  const t = (shape: number[], seed: number) => ({
    shape,
    data: seededFloats(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  });
  return {
    "model.embed_tokens.weight": t([32, 8], 1), // 1024 bytes
    "model.layers.0.self_attn.q_proj.weight": t([8, 8], 2), // 256
    "model.layers.0.mlp.down_proj.weight": t([8, 16], 3), // 512
    "model.norm.weight": t([8], 4), // 32
    "lm_head.weight": t([32, 8], 5), // 1024
  };
}

describe("shard planning", () => {
  it("names shards as transformers does", () => {
    expect(shardFileName("model.safetensors", 1, 3)).toBe("model-00001-of-00003.safetensors");
    expect(shardFileName("adapter_model.safetensors", 12, 12)).toBe("adapter_model-00012-of-00012.safetensors");
    expect(() => shardFileName("model.safetensors", 0, 3)).toThrow(/1 ≤ index ≤ count/);
  });

  it("splits greedily in order and gives an oversized tensor its own shard, ahead of the one being filled", () => {
    const sizes = [300, 300, 500, 100, 2000, 100].map((byteLength, i) => ({ byteLength, i }));
    expect(planShards(sizes, 1000).map((s) => s.map((t) => t.i))).toEqual([[0, 1], [4], [2, 3, 5]]);
    expect(planShards([], 1000)).toEqual([]);
  });
});

describe("single-file checkpoints", () => {
  it("round-trips through model.safetensors with format: pt metadata and no index", async () => {
    const dir = join(root, "single");
    const written = await writeCheckpointTensors(dir, stateDict(), { metadata: { step: "7" } });
    expect(written).toEqual({ files: [join(dir, "model.safetensors")], indexFile: null, totalSize: 2848 });
    expect(await readdir(dir)).toEqual(["model.safetensors"]);
    expect((await readSafetensorsHeader(join(dir, "model.safetensors"))).metadata).toEqual({ format: "pt", step: "7" });
    const back = await readCheckpointTensors(dir);
    for (const [name, t] of Object.entries(stateDict())) {
      expect(back.get(name)!.data, name).toEqual(t.data);
      expect(back.get(name)!.shape).toEqual(t.shape);
    }
  });

  it("supports another base name (PEFT's adapter_model.safetensors)", async () => {
    const dir = join(root, "adapter");
    const lora = {
      "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": { shape: [2, 8], data: seededFloats(16, 3) },
    };
    await writeCheckpointTensors(dir, lora, { fileName: "adapter_model.safetensors" });
    expect(await readdir(dir)).toEqual(["adapter_model.safetensors"]);
    const back = await readCheckpointTensors(dir, { fileName: "adapter_model.safetensors" });
    expect([...back.keys()]).toEqual(Object.keys(lora));
    await expect(readCheckpointTensors(dir)).rejects.toThrow(
      /neither model\.safetensors nor model\.safetensors\.index\.json exists/,
    );
    await expect(writeCheckpointTensors(dir, lora, { fileName: "../x.safetensors" })).rejects.toThrow(
      /plain file name/,
    );
  });
});

describe("sharded checkpoints", () => {
  it("writes shards and an index exactly as transformers names and formats them, and reads them back", async () => {
    const dir = join(root, "sharded");
    const written = await writeCheckpointTensors(dir, stateDict(), { maxShardBytes: 1100 });
    // 1024 | 256 + 512 + 32 | 1024: three shards.
    expect((await readdir(dir)).sort()).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
    ]);
    expect(written.indexFile).toBe(join(dir, "model.safetensors.index.json"));
    const index = await readFile(join(dir, "model.safetensors.index.json"), "utf8");
    expect(index).toBe(
      [
        "{",
        '  "metadata": {',
        '    "total_size": 2848',
        "  },",
        '  "weight_map": {',
        '    "lm_head.weight": "model-00003-of-00003.safetensors",',
        '    "model.embed_tokens.weight": "model-00001-of-00003.safetensors",',
        '    "model.layers.0.mlp.down_proj.weight": "model-00002-of-00003.safetensors",',
        '    "model.layers.0.self_attn.q_proj.weight": "model-00002-of-00003.safetensors",',
        '    "model.norm.weight": "model-00002-of-00003.safetensors"',
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    const back = await readCheckpointTensors(dir);
    expect(back.size).toBe(5);
    expect(back.get("model.norm.weight")!.data).toEqual(stateDict()["model.norm.weight"].data);
    const some = await readCheckpointTensors(dir, { names: ["lm_head.weight", "model.norm.weight"] });
    expect([...some.keys()].sort()).toEqual(["lm_head.weight", "model.norm.weight"]);
    await expect(readCheckpointTensors(dir, { names: ["nope.weight"] })).rejects.toThrow(
      /no tensor named "nope\.weight"/,
    );
    const headers = await readCheckpointHeaders(dir);
    expect(headers.layout).toBe("sharded");
    expect(headers.tensors.get("lm_head.weight")!.file).toBe(join(dir, "model-00003-of-00003.safetensors"));
  });

  it("removes the files of an earlier save that the new one does not use", async () => {
    const dir = join(root, "resave");
    await writeCheckpointTensors(dir, stateDict(), { maxShardBytes: 1100 });
    await writeFile(join(dir, "config.json"), "{}");
    await writeCheckpointTensors(dir, stateDict(), { maxShardBytes: 2000 });
    expect((await readdir(dir)).sort()).toEqual([
      "config.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "model.safetensors.index.json",
    ]);
    await writeCheckpointTensors(dir, stateDict());
    expect((await readdir(dir)).sort()).toEqual(["config.json", "model.safetensors"]);
  });

  async function shardedCopy(name: string): Promise<string> {
    const dir = join(root, name);
    await writeCheckpointTensors(dir, stateDict(), { maxShardBytes: 1100 });
    return dir;
  }

  it("a missing shard names the shard and a tensor listed for it", async () => {
    const dir = await shardedCopy("missing-shard");
    await rm(join(dir, "model-00002-of-00003.safetensors"));
    await expect(readCheckpointTensors(dir)).rejects.toThrow(
      /model\.safetensors\.index\.json: shard model-00002-of-00003\.safetensors \(listed for tensor "model\.layers\.0\.mlp\.down_proj\.weight" and others\) does not exist/,
    );
  });

  it("a tensor listed in the index but absent from its shard", async () => {
    const dir = await shardedCopy("absent-tensor");
    const indexFile = join(dir, "model.safetensors.index.json");
    const index = JSON.parse(await readFile(indexFile, "utf8"));
    index.weight_map["model.layers.1.mlp.up_proj.weight"] = "model-00002-of-00003.safetensors";
    await writeFile(indexFile, JSON.stringify(index));
    await expect(readCheckpointTensors(dir)).rejects.toThrow(
      /model-00002-of-00003\.safetensors: tensor "model\.layers\.1\.mlp\.up_proj\.weight" is listed in model\.safetensors\.index\.json for this shard but the shard does not contain it/,
    );
  });

  it("a tensor in two shards", async () => {
    const dir = await shardedCopy("two-shards");
    // Rewrite shard 3 to also hold model.norm.weight, which the index places in shard 2.
    const sd = stateDict();
    await writeSafetensors(
      join(dir, "model-00003-of-00003.safetensors"),
      { "lm_head.weight": sd["lm_head.weight"], "model.norm.weight": sd["model.norm.weight"] },
      { format: "pt" },
    );
    await expect(readCheckpointTensors(dir)).rejects.toThrow(
      /model-00003-of-00003\.safetensors, tensor "model\.norm\.weight", byte \d+: tensor is in two shards: here and in model-00002-of-00003\.safetensors/,
    );
  });

  it("a tensor in a shard that the index does not list", async () => {
    const dir = await shardedCopy("unlisted");
    const indexFile = join(dir, "model.safetensors.index.json");
    const index = JSON.parse(await readFile(indexFile, "utf8"));
    delete index.weight_map["model.norm.weight"];
    await writeFile(indexFile, JSON.stringify(index));
    await expect(readCheckpointTensors(dir)).rejects.toThrow(
      /tensor "model\.norm\.weight", byte \d+: shard holds a tensor that model\.safetensors\.index\.json does not list/,
    );
  });

  it("a malformed index, and shard paths that leave the directory", async () => {
    const dir = await shardedCopy("bad-index");
    const indexFile = join(dir, "model.safetensors.index.json");
    await writeFile(indexFile, "{ not json");
    await expect(readCheckpointTensors(dir)).rejects.toThrow(/index\.json: cannot read the checkpoint index/);
    await writeFile(indexFile, JSON.stringify({ metadata: {}, weight_map: { w: "../other/model.safetensors" } }));
    await expect(readCheckpointTensors(dir)).rejects.toThrow(
      /weight_map\["w"\] must be the plain file name of a shard/,
    );
    await writeFile(indexFile, JSON.stringify({ metadata: { total_size: -1 }, weight_map: {} }));
    await expect(readCheckpointTensors(dir)).rejects.toThrow(/"total_size" is a byte count/);
  });
});
