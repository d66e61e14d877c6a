/**
 * About `count` round tick values (1, 2 or 5 × 10^k apart) covering [min, max]; axes labelled with
 * them read at a glance, unlike evenly spaced raw values such as 2.3471.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max))
    throw new Error(`niceTicks: bounds must be finite, got ${min}, ${max}`);
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    // A flat series still needs an axis: widen it around the value.
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  // Ticks from one at or below min to the first at or above max (the ends of the axis); computed as
  // first + i·step, not by repeated addition, so that rounding errors do not accumulate.
  for (let i = 0; ; i++) {
    const v = Number((first + i * step).toPrecision(12));
    ticks.push(v);
    if (v >= max) break;
  }
  return ticks;
}

/** A tick value as a short label (no float noise such as 0.30000000000000004). */
export function formatTick(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}
