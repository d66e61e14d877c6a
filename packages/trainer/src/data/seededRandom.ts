import seedrandom from "seedrandom";
import type { RngState } from "./types.js";

/**
 * A seeded generator whose state can be saved and restored exactly (seedrandom's alea: four
 * numbers of state, fast, and identical on every platform, unlike Math.random).
 */
export class SeededRandom {
  private readonly prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;

  private constructor(prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>) {
    this.prng = prng;
  }

  static fromSeed(seed: string | number): SeededRandom {
    if (!(typeof seed === "string" || (typeof seed === "number" && Number.isFinite(seed)))) {
      throw new Error(`SeededRandom: seed must be a string or a finite number, got ${String(seed)}`);
    }
    return new SeededRandom(seedrandom.alea(String(seed), { state: true }));
  }

  static fromState(state: RngState, where = "rngState"): SeededRandom {
    requireRngState(state, where);
    return new SeededRandom(seedrandom.alea("", { state: { ...state } }));
  }

  state(): RngState {
    const { c, s0, s1, s2 } = this.prng.state();
    return { c, s0, s1, s2 };
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.prng();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

export function requireRngState(state: unknown, where: string): RngState {
  if (state === null || typeof state !== "object") throw new Error(`${where} must be an object {c, s0, s1, s2}`);
  for (const key of ["c", "s0", "s1", "s2"] as const) {
    const v = (state as Record<string, unknown>)[key];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new Error(`${where}.${key} must be a finite number, got ${JSON.stringify(v)}`);
    }
  }
  return state as RngState;
}
