import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tfSeed } from "../../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

describe("tfSeed", () => {
  it("is never 0 (tfjs reads a falsy seed as 'unseeded') and stays a positive 31-bit integer", () => {
    for (let s = -50; s < 50; s++) {
      for (let i = 0; i < 20; i++) {
        const v = tfSeed(s, i);
        expect(Number.isInteger(v) && v >= 1 && v < 2 ** 31).toBe(true);
      }
    }
  });

  it("makes seed 0 reproducible: the same seed gives the same tensor, another seed another", () => {
    const draw = (seed: number) =>
      tf.tidy(() => Array.from(tf.randomNormal([64], 0, 1, "float32", tfSeed(seed, 0)).dataSync()));
    expect(draw(0)).toEqual(draw(0));
    expect(draw(0)).not.toEqual(draw(1));
  });

  it("keeps consecutive and large inputs apart (no seed·k + i collisions)", () => {
    const seen = new Set<number>();
    for (let s = 0; s < 100; s++) for (let i = 0; i < 100; i++) seen.add(tfSeed(s, i));
    expect(seen.size).toBe(10_000);
    expect(tfSeed(2 ** 40)).not.toBe(tfSeed(0));
  });

  it("refuses what is not a safe integer, naming the part", () => {
    expect(() => tfSeed()).toThrow(/at least one integer/);
    expect(() => tfSeed(1, 0.5)).toThrow(/part 1 must be a safe integer, got 0.5/);
  });
});
