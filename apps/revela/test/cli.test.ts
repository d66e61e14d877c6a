import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_APP_CONFIG } from "../src/commands/pipelineApi.js";
import { TRAIN_FLAGS } from "../src/commands/trainFlags.js";
import { getConfigPath } from "../src/config/configPath.js";
import { defaultDatasetDir } from "../src/data/defaultDataset.js";
import { runRevela } from "./cliHarness.js";
import { sampleResult } from "./sampleResult.js";

const tmp = mkdtempSync(path.join(tmpdir(), "revela-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writeJson(name: string, value: unknown): string {
  const file = path.join(tmp, name);
  writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
  return file;
}

/** A tiny BEIR dataset: enough for BM25 (wink needs 3 documents) and a real evaluation. */
function tinyDataset(): string {
  const dir = path.join(tmp, "tiny");
  mkdirSync(path.join(dir, "qrels"), { recursive: true });
  const docs = [
    { _id: "d1", title: "Cats", text: "cats purr and sleep in the sun" },
    { _id: "d2", title: "Dogs", text: "dogs bark at the postman" },
    { _id: "d3", title: "Fish", text: "fish swim in the sea" },
    { _id: "d4", title: "Birds", text: "birds sing in the morning" },
  ];
  writeFileSync(path.join(dir, "corpus.jsonl"), `${docs.map((d) => JSON.stringify(d)).join("\n")}\n`);
  writeFileSync(
    path.join(dir, "queries.jsonl"),
    `${[
      { _id: "q1", text: "which animal purrs" },
      { _id: "q2", text: "who barks" },
    ]
      .map((q) => JSON.stringify(q))
      .join("\n")}\n`,
  );
  writeFileSync(path.join(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
  return dir;
}

/** The CLI's promise: a user error is exactly one line on stderr, prefixed with the program name. */
function expectOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^revela: /);
  expect(lines[0]).toMatch(pattern);
}

describe("revela --help", () => {
  it("lists the commands and says what runs by default", async () => {
    const run = await runRevela(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["train", "eval", "encode", "search", "bench"]) expect(run.stdout).toContain(command);
    expect(run.stdout).toMatch(/With no command, runs `revela train`/);
    expect(run.stdout).toContain("130 interrupted");
  });

  it.each([
    [
      "train",
      [
        "--minutes <n>",
        "--steps <n>",
        "--data <beirDir>",
        "--model <hfDir>",
        "--lora-r <n>",
        "--lora-alpha <n>",
        "--lora-targets <names>",
        "--out <dir>",
        "--seed <n>",
        "--backend <name>",
        "--threads <n>",
        "--config <file.json>",
      ],
    ],
    ["eval", ["--retriever <dir>", "--bm25", "--data <beirDir>", "--split <name>", "--config <file.json>"]],
    ["encode", ["--retriever <dir>", "--input <file>", "--output <file>", "--config <file.json>"]],
    ["search", ["--retriever <dir>", "--index <file>", "--query <text>", "-k, --k <n>", "--config <file.json>"]],
    [
      "bench",
      [
        "--model <hfDir>",
        "--batch-size <n>",
        "--seq <n>",
        "--implementations <list>",
        "--steps <n>",
        "--config <file.json>",
      ],
    ],
  ])("revela %s --help lists its flags", async (command, flags) => {
    const run = await runRevela([command, "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: revela ${command}`);
    for (const flag of flags) expect(run.stdout).toContain(flag);
    expect(run.stderr).toBe("");
  });
});

describe("revela train: errors before any work", () => {
  it("a missing dataset folder", async () => {
    const run = await runRevela(["train", "--data", path.join(tmp, "nope")]);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, /--data .*nope: no such directory/);
    expect(run.calls).toHaveLength(0);
  });

  it("a folder that is not a BEIR dataset, on the default command", async () => {
    const empty = path.join(tmp, "empty");
    mkdirSync(empty, { recursive: true });
    const run = await runRevela(["--data", empty]);
    expect(run.code).toBe(1);
    expectOneLineError(
      run.stderr,
      /not a BEIR dataset folder, missing corpus\.jsonl, queries\.jsonl, qrels\/test\.tsv/,
    );
  });

  it("an unknown key in the config file, naming the key and the file", async () => {
    const file = writeJson("typo.json", { train: { setps: 10 } });
    const run = await runRevela(["train", "--config", file]);
    expect(run.code).toBe(1);
    expectOneLineError(
      run.stderr,
      /typo\.json: unknown config key "train\.setps"; valid keys under "train": train\.steps/,
    );
  });

  it("a config value of the wrong type, naming the key", async () => {
    const file = writeJson("type.json", { minutes: "ten" });
    const run = await runRevela(["--config", file]);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, /type\.json: config key "minutes" must be a number .*got "ten"/);
  });

  it("a config value outside its choices, naming the key and the choices", async () => {
    const file = writeJson("choice.json", { train: { implementation: "sparse", retrieverInit: "lm" } });
    const run = await runRevela(["--config", file]);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, /train\.implementation must be one of "dense", "streaming", "topk", got "sparse"/);
    const init = await runRevela(["--config", writeJson("init.json", { train: { retrieverInit: "pretrained" } })]);
    expect(init.code).toBe(1);
    expectOneLineError(init.stderr, /train\.retrieverInit must be one of "lm", "random", got "pretrained"/);
  });

  it("a config file that is not JSON, or not there", async () => {
    const broken = writeJson("broken.json", "{ minutes: 3 ");
    const a = await runRevela(["train", "--config", broken]);
    expect(a.code).toBe(1);
    expectOneLineError(a.stderr, /broken\.json: invalid JSON/);
    const b = await runRevela(["train", "--config", path.join(tmp, "absent.json")]);
    expect(b.code).toBe(1);
    expectOneLineError(b.stderr, /--config .*absent\.json: no such file/);
  });

  it.each([
    [["--steps", "abc"], /option '--steps <n>' argument 'abc' is invalid\. It must be a positive integer\./],
    [["--steps", "1.5"], /'--steps <n>' argument '1\.5' is invalid/],
    [["--minutes", "-3"], /'--minutes <n>' argument '-3' is invalid\. It must be a number > 0\./],
    [["--threads", "9"], /'--threads <n>' argument '9' is invalid\. It must be an integer from 1 to 8\./],
    [
      ["--backend", "gpu"],
      /'--backend <name>' argument 'gpu' is invalid\. Allowed choices are tensorflow-gpu, tensorflow, wasm, cpu\./,
    ],
    [["--lora-targets", "q_proj,,v_proj"], /'--lora-targets <names>' argument 'q_proj,,v_proj' is invalid/],
  ])("a bad flag value %j", async (args, pattern) => {
    const run = await runRevela(["train", ...args]);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, pattern);
    expect(run.calls).toHaveLength(0);
  });

  it("an unknown flag or command", async () => {
    const flag = await runRevela(["train", "--stpes", "3"]);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toMatch(/^revela: unknown option '--stpes'/);
    const command = await runRevela(["evl"]);
    expect(command.code).toBe(1);
    expectOneLineError(command.stderr, /unknown command "evl"/);
  });

  it("LoRA flags without a pretrained model", async () => {
    const run = await runRevela(["train", "--lora-r", "8"]);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, /--lora-r needs --model/);
  });

  it("a --model folder without config.json", async () => {
    const run = await runRevela(["train", "--model", tmp]);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, /--model .*: no config\.json/);
  });

  it("an error from the pipeline is one line too", async () => {
    const run = await runRevela(["train", "--out", path.join(tmp, "fail")], {
      pipeline: async () => {
        throw new Error("corpus.jsonl:7: bad\nsecond line");
      },
    });
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, /revela: corpus\.jsonl:7: bad second line$/);
  });
});

describe("revela train: config and report", () => {
  it("maps every training flag to a key of DEFAULT_APP_CONFIG", () => {
    for (const flag of TRAIN_FLAGS) {
      expect(
        getConfigPath(DEFAULT_APP_CONFIG, flag.configKey),
        `${flag.flags} → ${flag.configKey}`,
      ).not.toBeUndefined();
    }
  });

  it("merges the config file under the flags, checks paths, runs the pipeline, prints the table and writes the report", async () => {
    const out = path.join(tmp, "run-out");
    const data = tinyDataset();
    const file = writeJson("run.json", { seed: 3, minutes: 5, train: { steps: 7, batchSize: 8 }, data });
    const run = await runRevela(["--config", file, "--steps", "5", "--out", out], { result: sampleResult() });
    expect(run.stderr).not.toMatch(/revela: /);
    expect(run.code).toBe(0);
    expect(run.calls).toHaveLength(1);
    const { config, io } = run.calls[0] as (typeof run.calls)[0];
    expect(config.train.steps).toBe(5); // the flag wins over the file
    expect(config.train.batchSize).toBe(8); // the file wins over the defaults
    expect(config.seed).toBe(3);
    expect(config.minutes).toBe(5);
    expect(config.data).toBe(path.resolve(data));
    expect(config.out).toBe(path.resolve(out));
    expect(config.train.temperature).toBe(DEFAULT_APP_CONFIG.train.temperature);
    expect(io.defaultDataDir).toBe(defaultDatasetDir());
    expect(run.stdout).toMatch(/^BM25 +0\.679\* +0\.920 +0\.646$/m);
    expect(run.stdout).toContain("* best in column");
    const written = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8"));
    expect(written.rows).toEqual(sampleResult().rows);
    expect(readFileSync(path.join(out, "report.html"), "utf8")).toContain("<svg");
    expect(readFileSync(path.join(out, "results.md"), "utf8")).toContain("**0.679**");
    expect(run.stderr).toContain(`report: ${path.join(out, "report.html")}`);
  });

  it("runs with the defaults and the embedded dataset when given no command", async () => {
    const out = path.join(tmp, "default-out");
    const run = await runRevela(["--out", out], { result: sampleResult() });
    expect(run.code).toBe(0);
    const { config } = run.calls[0] as (typeof run.calls)[0];
    expect(config.data).toBeNull();
    expect(config.train.steps).toBe(DEFAULT_APP_CONFIG.train.steps);
  });

  it("exits 130 when interrupted, after writing the report of what was done", async () => {
    const out = path.join(tmp, "interrupted");
    const run = await runRevela(["train", "--out", out], {
      pipeline: async (_config, _io, interrupt) => {
        interrupt.abort();
        return sampleResult();
      },
    });
    expect(run.code).toBe(130);
    expect(readFileSync(path.join(out, "results.json"), "utf8")).toContain("BM25");
    expect(run.stderr).toContain("interrupted");
  });
});

describe("revela eval", () => {
  it("evaluates BM25 on a BEIR folder", async () => {
    const run = await runRevela(["eval", "--bm25", "--data", tinyDataset()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^system\s+nDCG@10\s+Recall@100\s+MRR@10\n/);
    // Each query's one relevant document is the only one sharing a word with it: a perfect run.
    expect(run.stdout).toMatch(/BM25\s+1\.000\*\s+1\.000\*\s+1\.000\*/);
  });

  it("takes its options from --config, flags first, and prints JSON on request", async () => {
    const file = writeJson("eval.json", { bm25: true, data: tinyDataset(), split: "nope" });
    const run = await runRevela(["eval", "--config", file, "--split", "test", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      system: "BM25",
      ndcg10: 1,
      split: "test",
      queries: 2,
      documents: 4,
    });
  });

  it.each([
    [[], /give --retriever <dir> \(a saved retriever\) or --bm25/],
    [["--bm25", "--retriever", "x"], /either --retriever <dir> or --bm25, not both/],
    [["--retriever", "/nonexistent/retriever"], /--retriever \/nonexistent\/retriever: no such directory/],
    [["--bm25", "--data", "/nonexistent/data"], /--data \/nonexistent\/data: no such directory/],
    [["--bm25", "--split", "dev"], /missing qrels\/dev\.tsv/],
  ])("fails clearly for %j", async (args, pattern) => {
    const run = await runRevela(["eval", ...args]);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, pattern);
  });

  it("rejects an unknown --config key, listing the valid ones", async () => {
    const file = writeJson("eval-bad.json", { bm25: true, retreiver: "x" });
    const run = await runRevela(["eval", "--config", file]);
    expect(run.code).toBe(1);
    expectOneLineError(
      run.stderr,
      /eval-bad\.json: unknown config key "retreiver" for "revela eval"; valid keys: retriever, bm25/,
    );
  });
});

describe("revela encode and search: errors before any work", () => {
  it.each([
    [["encode", "--input", "a.txt", "--output", "b.emb"], /--retriever is required/],
    [
      ["encode", "--retriever", "/nonexistent", "--input", "a.txt", "--output", "b.emb"],
      /--retriever \/nonexistent: no such directory/,
    ],
    [
      ["encode", "--retriever", "/tmp", "--input", "a.txt", "--output", "b.emb"],
      /--retriever \/tmp: no retriever\.json/,
    ],
    [["search", "--retriever", "r", "--index", "i.emb"], /--query is required/],
    [
      ["search", "--retriever", "r", "--index", "/nonexistent.emb", "--query", "q"],
      /--index \/nonexistent\.emb: no such file/,
    ],
    [
      ["search", "--retriever", "r", "--index", "i", "--query", "q", "-k", "0"],
      /'-k, --k <n>' argument '0' is invalid/,
    ],
  ])("%j", async (args, pattern) => {
    const run = await runRevela(args);
    expect(run.code).toBe(1);
    expectOneLineError(run.stderr, pattern);
  });
});

describe("revela bench", () => {
  const tiny = "--vocab 64 --hidden-size 16 --layers 1 --heads 2 --kv-heads 1 --ffn 24".split(" ");
  // A tiny model, a batch of 3 chunks of 8 tokens, on the cpu backend.
  const tinyRun = [...tiny, ..."--batch-size 3 --seq 8 --backend cpu".split(" ")];

  it("times full Revela steps per implementation and prints one JSON line each", async () => {
    const run = await runRevela([
      "bench",
      ...tinyRun,
      "--steps",
      "2",
      "--implementations",
      "dense,streaming,topk",
      "--json",
    ]);
    expect(run.stderr).toMatch(/batch 3 × 8 tokens/);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.implementation)).toEqual(["dense", "streaming", "topk"]);
    for (const l of lines) {
      expect(l.medianStepMs).toBeGreaterThan(0);
      // tokens/s is the batch's tokens over the median step time.
      expect(l.tokensPerSecond as number).toBeCloseTo((3 * 8 * 1000) / (l.medianStepMs as number), 6);
      expect(l.steps).toBe(2);
    }
    expect(run.stderr.match(/step \d\/2/g)).toHaveLength(6);
  });

  it("prints a table, and with --profile each implementation's forward and backward per kernel", async () => {
    const run = await runRevela(["bench", ...tinyRun, "--steps", "2", "--profile"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^implementation\s+min step\s+median step\s+max step\s+max\/min\s+tokens\/s\s+wasm heap\s+RSS$/,
    );
    // cpu: no wasm heap
    expect(lines[2]).toMatch(/^streaming(\s+\d+\.\d\d s){3}\s+\d+\.\d\d×\s+\d+\s+—\s+\d+ MiB$/);
    expect(
      lines.filter((l) => /^(streaming|topk) (forward|backward) \(profiled, [\d.]+ s\): \w+ \d+% \(\d+×\)/.test(l)),
    ).toHaveLength(4);
    // Each step's pairs of the in-batch term (τ 1e-4: W one-hot, about B of B·(B − 1) non-zero).
    expect(run.stderr).toMatch(
      /streaming step 1\/2: [\d.]+ s, \d+ pairs per layer \(W: \d+ of 6 non-zero\), GC \d+ ms/,
    );
  });

  it("names bad flags: unknown implementation, a batch of one, a missing model folder", async () => {
    const impl = await runRevela(["bench", "--implementations", "streaming,sparse"]);
    expect(impl.code).toBe(1);
    expectOneLineError(impl.stderr, /--implementations <list>.*'streaming,sparse' is invalid.*dense, streaming, topk/);
    const one = await runRevela(["bench", ...tiny, "--batch-size", "1", "--backend", "cpu"]);
    expect(one.code).toBe(1);
    expect(one.stderr.trimEnd().split("\n").at(-1)).toMatch(
      /^revela: benchmarkRevelaStep: batchSize must be an integer ≥ 2/,
    );
    const model = await runRevela(["bench", "--model", path.join(tmp, "no-such-model")]);
    expect(model.code).toBe(1);
    expectOneLineError(model.stderr, /--model .*no-such-model: no such directory/);
  });
});
