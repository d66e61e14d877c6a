/** The repository's JSON-lines benchmark schema (see DESIGN.md; same as packages/kernels/bench). */
export interface BenchLine {
  bench: string;
  case: string;
  impl: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: string;
  params?: Record<string, unknown>;
}

export function emit(line: BenchLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Milliseconds of `fn` per run: `warmup` discarded runs, then the median of `runs`. */
export async function timeMedian(fn: () => unknown, warmup: number, runs: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? (times[mid] as number) : ((times[mid - 1] as number) + (times[mid] as number)) / 2;
}
