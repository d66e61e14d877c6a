/** The one JSON-lines schema every benchmark in the repository prints (see DESIGN.md). */
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

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
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
  return median(times);
}
