import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_RULES, configLeafKeys, ruleOf } from "../src/commands/configRules.js";
import { getConfigPath } from "../src/config/configPath.js";
import { DEFAULT_APP_CONFIG, PAPER_PRESET } from "../src/pipeline/appConfig.js";
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

describe("config values are checked when read", () => {
  it("every numeric key of the defaults and the paper preset has a rule, and the defaults pass it", () => {
    for (const config of [DEFAULT_APP_CONFIG, PAPER_PRESET]) {
      for (const key of configLeafKeys(config)) {
        const value = getConfigPath(config, key);
        if (typeof value !== "number") continue;
        const rule = ruleOf(key);
        expect(rule, `${key} has no rule in CONFIG_RULES`).toBeDefined();
        expect(() => rule?.(String(value)), key).not.toThrow();
      }
    }
    expect(Object.keys(CONFIG_RULES).every((key) => getConfigPath(DEFAULT_APP_CONFIG, key) !== undefined)).toBe(true);
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
