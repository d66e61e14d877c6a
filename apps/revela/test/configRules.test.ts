import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CROSS_ATTENTION_OPTIONS, DOCUMENT_WEIGHTS_OPTIONS } from "@revela/inbatch-attention";
import { LR_SCHEDULE_OPTIONS } from "@revela/trainer";
import { afterAll, describe, expect, it } from "vitest";
import { configLeafKeys, ruleOf } from "../src/commands/configRules.js";
import { TRAIN_FLAGS } from "../src/commands/trainFlags.js";
import { getConfigPath } from "../src/config/configPath.js";
import { DEFAULT_APP_CONFIG, PAPER_PRESET, resolveAppConfig } from "../src/pipeline/appConfig.js";
import { APP_CONFIG_OPTIONS } from "../src/pipeline/appConfigOptions.js";
import { revelaLossOptions } from "../src/pipeline/revelaLossOptions.js";
import { runRevela } from "./cliHarness.js";
import { sampleResult } from "./sampleResult.js";

/**
 * Config values are range-checked when read, with the flags' rules: `{"minutes": -1}` used to run,
 * and `train.steps: 0` failed only after BM25, the model build and the first evaluation.
 */

const tmp = mkdtempSync(path.join(tmpdir(), "revela-config-rules-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function configFile(name: string, values: unknown): string {
  const file = path.join(tmp, name);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

function data(): string {
  const dir = path.join(tmp, "data");
  mkdirSync(path.join(dir, "qrels"), { recursive: true });
  writeFileSync(path.join(dir, "corpus.jsonl"), `${JSON.stringify({ _id: "d1", text: "cats" })}\n`);
  writeFileSync(path.join(dir, "queries.jsonl"), `${JSON.stringify({ _id: "q1", text: "cats" })}\n`);
  writeFileSync(path.join(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
  return dir;
}

describe("the in-batch flags reach the Revela loss", () => {
  it("--temperature, --implementation and --top-k set the trainer's loss options", async () => {
    const run = await runRevela(
      [
        "train",
        "--temperature",
        "0.5",
        "--implementation",
        "topk",
        "--top-k",
        "3",
        "--data",
        data(),
        "--out",
        path.join(tmp, "flags-out"),
      ],
      { result: sampleResult() },
    );
    expect(run.stderr).not.toMatch(/revela: /);
    expect(run.calls).toHaveLength(1);
    const loss = revelaLossOptions((run.calls[0] as (typeof run.calls)[0]).config.train);
    expect(loss).toMatchObject({ temperature: 0.5, implementation: "topk", topK: 3 });
    // Without the flags, the recipe's values.
    expect(revelaLossOptions(resolveAppConfig().train)).toMatchObject({
      temperature: DEFAULT_APP_CONFIG.train.temperature,
      implementation: DEFAULT_APP_CONFIG.train.implementation,
      topK: DEFAULT_APP_CONFIG.train.topK,
    });
  });

  it.each([
    [["--temperature", "0"], /'--temperature <tau>' argument '0' is invalid\. It must be a number > 0\./],
    [["--implementation", "sparse"], /'--implementation <name>' argument 'sparse' is invalid/],
    [["--top-k", "0"], /'--top-k <n>' argument '0' is invalid\. It must be a positive integer\./],
  ])("refuses %j with the package's rule", async (flags, message) => {
    const run = await runRevela(["train", ...flags, "--data", data(), "--out", path.join(tmp, "bad-flag-out")], {
      result: sampleResult(),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.calls).toHaveLength(0);
  });
});

describe("config values are checked when read", () => {
  it("every numeric key of the defaults and the paper preset has a rule, and the defaults pass it", () => {
    for (const config of [DEFAULT_APP_CONFIG, PAPER_PRESET]) {
      for (const key of configLeafKeys(config)) {
        const value = getConfigPath(config, key);
        if (typeof value !== "number" && !(typeof value === "string" && key.startsWith("train."))) continue;
        const rule = ruleOf(key);
        expect(rule, `${key} has no rule in APP_CONFIG_OPTIONS`).toBeDefined();
        expect(() => rule?.(String(value)), key).not.toThrow();
      }
    }
    expect(Object.keys(APP_CONFIG_OPTIONS).every((key) => getConfigPath(DEFAULT_APP_CONFIG, key) !== undefined)).toBe(
      true,
    );
  });

  it("takes the in-batch settings' rules and docs from @revela/inbatch-attention, not a copy", () => {
    expect(APP_CONFIG_OPTIONS["train.temperature"]).toBe(DOCUMENT_WEIGHTS_OPTIONS.temperature);
    expect(APP_CONFIG_OPTIONS["train.implementation"]).toBe(CROSS_ATTENTION_OPTIONS.implementation);
    expect(APP_CONFIG_OPTIONS["train.topK"]).toBe(CROSS_ATTENTION_OPTIONS.topK);
    expect(APP_CONFIG_OPTIONS["train.warmup"]).toBe(LR_SCHEDULE_OPTIONS.warmup);
    expect(DEFAULT_APP_CONFIG.train.implementation).toBe(CROSS_ATTENTION_OPTIONS.implementation.default);
    expect(DEFAULT_APP_CONFIG.train.topK).toBe(CROSS_ATTENTION_OPTIONS.topK.default);
    const flag = (key: string) => TRAIN_FLAGS.find((f) => f.configKey === key);
    expect(flag("train.temperature")?.description).toBe(DOCUMENT_WEIGHTS_OPTIONS.temperature.doc);
    expect(flag("train.implementation")?.choices).toEqual(["dense", "streaming", "topk"]);
    expect(flag("train.topK")?.flags).toBe("--top-k <n>");
  });

  it.each([
    [{ minutes: -1 }, /"minutes" = -1 is invalid\. It must be a number > 0\./],
    [{ train: { steps: 0 } }, /"train\.steps" = 0 is invalid\. It must be a positive integer\./],
    [
      { train: { lmWarmupShare: 1.5 } },
      /"train\.lmWarmupShare" = 1\.5 is invalid\. It must be a number from 0 to below 1\./,
    ],
    [{ train: { batchSize: 1 } }, /"train\.batchSize" = 1 is invalid\. It must be an integer ≥ 2\./],
    [{ model: { loraDropout: -0.1 } }, /"model\.loraDropout" = -0\.1 is invalid/],
    [{ seed: 1.5 }, /"seed" = 1\.5 is invalid\. It must be an integer ≥ 0\./],
    [{ threads: 64 }, /"threads" = 64 is invalid\. It must be an integer from 1 to 8\./],
    [{ model: { dir: " " } }, /"model\.dir" = " " is invalid\. It must not be empty\./],
    [{ train: { temperature: -1 } }, /"train\.temperature" = -1 is invalid\. It must be a number > 0\./],
    [{ train: { topK: 0 } }, /"train\.topK" = 0 is invalid\. It must be a positive integer\./],
  ])("refuses %j before any work, naming the file and the key", async (values, message) => {
    const file = configFile("bad.json", values);
    const run = await runRevela(["train", "--config", file, "--data", data(), "--out", path.join(tmp, "out")], {
      result: sampleResult(),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^revela: .*bad\.json: /);
    expect(run.stderr).toMatch(message);
    expect(run.calls).toHaveLength(0);
  });
});
