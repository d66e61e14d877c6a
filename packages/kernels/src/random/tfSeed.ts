import { mix32 } from "./mix32.js";

/**
 * A seed for tfjs's seeded random ops (randomNormal, randomUniform, dropout) derived from any
 * integers. tfjs treats a falsy seed as "no seed" (`seed ? seed : Math.random()` in its
 * initialisers), so seed 0 — the CLI default — silently meant a different tensor on every run.
 * Mixing the parts through a 32-bit finaliser gives a value in [1, 2³¹ − 1] that is never 0, and
 * unrelated values for consecutive inputs (seed·k + i style arithmetic collides: (0, 1) vs (1, 1−k)).
 */
export function tfSeed(...parts: number[]): number {
  if (!parts.length) throw new Error("tfSeed: give at least one integer");
  let h = 0x2545f491;
  parts.forEach((p, i) => {
    if (!Number.isSafeInteger(p)) throw new Error(`tfSeed: part ${i} must be a safe integer, got ${String(p)}`);
    // Both 32-bit halves enter, so seeds beyond 2³² stay distinct.
    h = mix32(h ^ mix32(p >>> 0));
    h = mix32(h ^ mix32(Math.floor(p / 2 ** 32) >>> 0) ^ (i + 1));
  });
  return (h % 0x7ffffffe) + 1;
}
