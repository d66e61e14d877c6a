import type { ResultRow } from "../pipeline/pipelineResult.js";
import { escapeHtml } from "./escapeHtml.js";
import { formatTick, niceTicks } from "./niceTicks.js";
import { bestRows, formatMeasure } from "./resultsTable.js";

const WIDTH = 760;
const BAR = 24;
const GAP = 10;
const LABEL_W = 230;
const RIGHT = 60;

/** A system name cut to fit the label column; the full name stays in the bar's tooltip. */
const shorten = (text: string, max = 32) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * nDCG@10 per system as horizontal bars (names read better beside a bar than under one), the best
 * system drawn in a darker colour. The axis starts at 0 so bar lengths compare honestly.
 */
export function renderNdcgBarChart(rows: readonly ResultRow[]): string {
  if (rows.length === 0) return `<p class="empty">No systems were evaluated.</p>`;
  const best = bestRows(rows).ndcg10;
  const ticks = niceTicks(0, Math.max(...rows.map((r) => r.ndcg10), 0.1), 5);
  const top = ticks[ticks.length - 1] as number;
  const plotW = WIDTH - LABEL_W - RIGHT;
  const height = rows.length * (BAR + GAP) + GAP + 28;
  const axisY = rows.length * (BAR + GAP) + GAP;
  const sx = (v: number) => LABEL_W + (v / top) * plotW;
  const parts = [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="nDCG@10 per system">`,
    ...ticks.map(
      (t) =>
        `<line class="grid" x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="0" y2="${axisY}"/>` +
        `<text class="tick" x="${sx(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    ),
    ...rows.map((row, i) => {
      const y = GAP + i * (BAR + GAP);
      const w = Math.max(0, sx(row.ndcg10) - LABEL_W);
      const name = escapeHtml(row.system);
      return (
        `<g><title>${name}: nDCG@10 ${formatMeasure(row.ndcg10)}</title>` +
        `<text class="bar-label" x="${LABEL_W - 8}" y="${y + BAR / 2 + 4}" text-anchor="end">${escapeHtml(shorten(row.system))}</text>` +
        `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${best.has(i) ? "#08519c" : "#6baed6"}"/>` +
        `<text class="bar-value" x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + BAR / 2 + 4}">${formatMeasure(row.ndcg10)}</text></g>`
      );
    }),
    `<line class="axis" x1="${LABEL_W}" x2="${LABEL_W}" y1="0" y2="${axisY}"/>`,
    "</svg>",
  ];
  return parts.join("\n");
}
