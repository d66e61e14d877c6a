import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configKeys, parseConfigOverride, resolveRunConfig, writeRunConfig } from "../../src/run/runConfig.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "revela-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const defaults = {
  name: "run",
  seed: 0,
  data: { corpus: "corpus.jsonl", maxWords: 120, batchSize: 16 },
  optim: { lr: 1e-4, weightDecay: 0.01, clip: true, betas: [0.9, 0.999] },
  tag: null,
};

describe("resolveRunConfig", () => {
  it("layers file, values and key.path=value overrides over the defaults, parsing each as its default's kind", () => {
    const file = path.join(dir, "run.json");
    writeFileSync(file, JSON.stringify({ data: { batchSize: 32 }, optim: { lr: 3e-4 } }));
    const config = resolveRunConfig(defaults, {
      file,
      values: { seed: 5 },
      overrides: [
        "optim.lr=0.001",
        "optim.clip=false",
        "name=123",
        "optim.betas=[0.8,0.99]",
        "tag=7",
        "data.corpus=a=b.jsonl",
      ],
    });
    expect(config).toEqual({
      name: "123",
      seed: 5,
      data: { corpus: "a=b.jsonl", maxWords: 120, batchSize: 32 },
      optim: { lr: 0.001, weightDecay: 0.01, clip: false, betas: [0.8, 0.99] },
      tag: 7,
    });
    expect(defaults.optim.lr).toBe(1e-4);
  });

  it("rejects unknown keys, naming the key and listing the valid ones", () => {
    expect(() => resolveRunConfig(defaults, { overrides: ["optim.lrr=1"] })).toThrow(
      'override "optim.lrr=1": unknown config key "optim.lrr"; valid keys under "optim": optim.lr, optim.weightDecay, optim.clip, optim.betas',
    );
    expect(() => resolveRunConfig(defaults, { overrides: ["epochs=3"] })).toThrow(
      /unknown config key "epochs"; valid keys: name, seed, data\.corpus, data\.maxWords, data\.batchSize, optim\.lr/,
    );
    const file = path.join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ data: { size: 3 } }));
    expect(() => resolveRunConfig(defaults, { file })).toThrow(
      new RegExp(`${file.replace(/[.]/g, "\\.")}: unknown config key "data\\.size"`),
    );
  });

  it("rejects values of the wrong kind and malformed overrides", () => {
    expect(() => resolveRunConfig(defaults, { overrides: ["seed=abc"] })).toThrow(
      /config key "seed" must be a finite number \(its default is 0\), got "abc"/,
    );
    expect(() => resolveRunConfig(defaults, { overrides: ["optim.clip=yes"] })).toThrow(/must be true or false/);
    expect(() => resolveRunConfig(defaults, { overrides: ["optim=1"] })).toThrow(
      /config key "optim" is a section; set one of optim\.lr/,
    );
    expect(() => resolveRunConfig(defaults, { overrides: ["seed.x=1"] })).toThrow(
      /config key "seed" is a value, not a section/,
    );
    expect(() => resolveRunConfig(defaults, { overrides: ["seed"] })).toThrow(/must look like key\.path=value/);
    expect(() => resolveRunConfig(defaults, { values: { data: { batchSize: "16" as unknown as number } } })).toThrow(
      /options\.values: config key "data\.batchSize" must be a number \(like its default 16\), got "16"/,
    );
    const file = path.join(dir, "broken.json");
    writeFileSync(file, "{");
    expect(() => resolveRunConfig(defaults, { file })).toThrow(/broken\.json: invalid JSON/);
  });

  it("parses overrides and lists keys", () => {
    expect(parseConfigOverride("a.b=c=d")).toEqual({ key: "a.b", path: ["a", "b"], raw: "c=d" });
    expect(configKeys({ a: 1, b: { c: 2, d: {} } })).toEqual(["a", "b.c", "b.d"]);
  });
});

describe("writeRunConfig", () => {
  it("writes config.json into the run directory", () => {
    const runDir = path.join(dir, "runs", "one");
    const file = writeRunConfig(runDir, { a: 1 });
    expect(file).toBe(path.join(runDir, "config.json"));
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ a: 1 });
  });
});
