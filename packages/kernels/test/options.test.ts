import { describe, expect, it } from "vitest";
import { checkOption, describeOption, type OptionSpec, optionDefaults, parseOption } from "../src/index.js";

const schema = {
  tau: { kind: "number", default: 0.1, min: 0, minExclusive: true, doc: "τ" },
  k: { kind: "number", default: 2, integer: true, min: 1, doc: "k" },
  share: { kind: "number", default: 0.5, min: 0, max: 1, maxExclusive: true, doc: "share" },
  impl: { kind: "choice", choices: ["a", "b"], default: "a", doc: "impl" },
  norm: { kind: "boolean", default: true, doc: "norm" },
} satisfies Record<string, OptionSpec>;

describe("option schemas", () => {
  it("describe their allowed values in words", () => {
    expect(describeOption(schema.tau)).toBe("a number > 0");
    expect(describeOption(schema.k)).toBe("a positive integer");
    expect(describeOption(schema.share)).toBe("a number from 0 to below 1");
    expect(describeOption({ kind: "number", integer: true, min: 1, max: 8, doc: "" })).toBe("an integer from 1 to 8");
    expect(describeOption({ kind: "number", integer: true, min: 2, doc: "" })).toBe("an integer ≥ 2");
    expect(describeOption(schema.impl)).toBe('one of "a", "b"');
  });

  it("check a value, naming where it was and what was wrong", () => {
    expect(checkOption(schema.tau, 0.02, "op: tau")).toBe(0.02);
    expect(() => checkOption(schema.tau, 0, "op: tau")).toThrow("op: tau must be a number > 0, got 0");
    expect(() => checkOption(schema.tau, Number.NaN, "op: tau")).toThrow(/got NaN/);
    expect(() => checkOption(schema.k, 1.5, "op: k")).toThrow("op: k must be a positive integer, got 1.5");
    expect(() => checkOption(schema.share, 1, "op: share")).toThrow(/from 0 to below 1, got 1/);
    expect(() => checkOption(schema.impl, "c", "op: impl")).toThrow('op: impl must be one of "a", "b", got "c"');
    expect(() => checkOption(schema.norm, "yes", "op: norm")).toThrow('op: norm must be true or false, got "yes"');
  });

  it("parse flag text by kind, and refuse text the rule does not allow", () => {
    expect(parseOption(schema.tau, "1e-4")).toBe(1e-4);
    expect(parseOption(schema.norm, "false")).toBe(false);
    expect(parseOption(schema.impl, "b")).toBe("b");
    expect(() => parseOption(schema.k, "")).toThrow("It must be a positive integer.");
    expect(() => parseOption(schema.k, "abc")).toThrow("It must be a positive integer.");
  });

  it("give one default per option", () => {
    expect(optionDefaults(schema)).toEqual({ tau: 0.1, k: 2, share: 0.5, impl: "a", norm: true });
  });
});
