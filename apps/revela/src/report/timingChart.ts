import type { PhaseTiming } from "../pipeline/pipelineResult.js";
import { escapeHtml } from "./escapeHtml.js";
import { seriesColor } from "./palette.js";

const WIDTH = 760;
const BAR_H = 28;

/** Seconds as the report shows them: 0.42 s, 12.3 s, 4 min 05 s, 1 h 02 min. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/**
 * Where the time went: one bar split into the phases in proportion to their seconds (so the phase
 * that dominates is obvious), and a table with the exact figures and shares.
 */
export function renderTimings(timings: readonly PhaseTiming[], totalSeconds: number): string {
  if (timings.length === 0) return `<p class="empty">No phase timings were recorded.</p>`;
  const sum = timings.reduce((a, t) => a + t.seconds, 0);
  // Shares are of the run's total when the phases fit inside it, else of their sum (overlapping phases).
  const whole = totalSeconds >= sum && totalSeconds > 0 ? totalSeconds : sum;
  let x = 0;
  const segments = timings.map((t, i) => {
    const w = whole > 0 ? (t.seconds / whole) * WIDTH : 0;
    const title = `<title>${escapeHtml(t.phase)}: ${formatSeconds(t.seconds)}</title>`;
    let seg = `<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${BAR_H}" fill="${seriesColor(i)}">${title}</rect>`;
    // The phase's name on its segment when it fits (about 6.5 px a character); the table has them all.
    const label = escapeHtml(t.phase);
    if (w > 6.5 * t.phase.length + 12) {
      seg += `<text x="${(x + 6).toFixed(1)}" y="${BAR_H / 2 + 4}" style="fill:#fff">${label}</text>`;
    }
    x += w;
    return seg;
  });
  const rows = timings.map(
    (t, i) =>
      `<tr><td><span class="swatch" style="background:${seriesColor(i)}"></span>${escapeHtml(t.phase)}</td>` +
      `<td class="num">${formatSeconds(t.seconds)}</td><td class="num">${whole > 0 ? ((100 * t.seconds) / whole).toFixed(1) : "0.0"} %</td></tr>`,
  );
  const other = whole - sum;
  if (other > 0.005 * whole) {
    rows.push(
      `<tr><td><span class="swatch" style="background:#ddd"></span>other</td><td class="num">${formatSeconds(other)}</td><td class="num">${((100 * other) / whole).toFixed(1)} %</td></tr>`,
    );
  }
  return [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${BAR_H}" width="${WIDTH}" height="${BAR_H}" role="img" aria-label="Time per phase">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${BAR_H}" fill="#ddd"/>`,
    ...segments,
    "</svg>",
    `<table class="timings"><thead><tr><th>phase</th><th>time</th><th>share</th></tr></thead><tbody>`,
    ...rows,
    `<tr class="total"><td>total</td><td class="num">${formatSeconds(totalSeconds)}</td><td></td></tr>`,
    "</tbody></table>",
  ].join("\n");
}
