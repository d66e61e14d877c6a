import type { LossCurve } from "../pipeline/pipelineResult.js";
import { escapeHtml } from "./escapeHtml.js";
import { formatTick, niceTicks } from "./niceTicks.js";
import { seriesColor } from "./palette.js";

const WIDTH = 760;
const HEIGHT = 340;
const MARGIN = { left: 64, right: 20, top: 20, bottom: 46 };

/** Coordinates with one decimal: enough for a screen, and keeps a 10,000-point curve small. */
const fmt = (v: number) => v.toFixed(1);

/**
 * A figure against step (training loss by default; any learning curve), one line per series, as inline SVG. Points whose loss is not a finite
 * number (a diverged step; null once written to JSON) break the line instead of dragging the axis
 * to infinity.
 */
export function renderLossChart(
  curves: readonly LossCurve[],
  options: { yLabel?: string; ariaLabel?: string } = {},
): string {
  const yLabel = options.yLabel ?? "loss";
  const finite = curves.flatMap((c) =>
    c.points.filter((p) => typeof p.loss === "number" && Number.isFinite(p.loss) && Number.isFinite(p.step)),
  );
  if (finite.length === 0) return `<p class="empty">No ${escapeHtml(yLabel)} was recorded.</p>`;
  const xTicks = niceTicks(Math.min(...finite.map((p) => p.step)), Math.max(...finite.map((p) => p.step)), 6);
  const yTicks = niceTicks(Math.min(...finite.map((p) => p.loss)), Math.max(...finite.map((p) => p.loss)), 5);
  const [x0, x1] = [xTicks[0] as number, xTicks[xTicks.length - 1] as number];
  const [y0, y1] = [yTicks[0] as number, yTicks[yTicks.length - 1] as number];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (step: number) => MARGIN.left + ((step - x0) / (x1 - x0)) * plotW;
  const sy = (loss: number) => MARGIN.top + plotH - ((loss - y0) / (y1 - y0)) * plotH;

  const grid = [
    ...yTicks.map(
      (t) =>
        `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${fmt(sy(t))}" y2="${fmt(sy(t))}"/>` +
        `<text class="tick" x="${MARGIN.left - 6}" y="${fmt(sy(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`,
    ),
    ...xTicks.map(
      (t) =>
        `<text class="tick" x="${fmt(sx(t))}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    ),
  ];
  const lines = curves.map((curve, i) => {
    const segments: string[][] = [[]];
    for (const p of curve.points) {
      if (typeof p.loss === "number" && Number.isFinite(p.loss)) {
        (segments[segments.length - 1] as string[]).push(`${fmt(sx(p.step))},${fmt(sy(p.loss))}`);
      } else if ((segments[segments.length - 1] as string[]).length > 0) segments.push([]);
    }
    const color = seriesColor(i);
    return segments
      .filter((s) => s.length > 0)
      .map((s) =>
        s.length === 1
          ? `<circle cx="${s[0]?.split(",")[0]}" cy="${s[0]?.split(",")[1]}" r="2.5" fill="${color}"><title>${escapeHtml(curve.name)}</title></circle>`
          : `<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${s.join(" ")}"><title>${escapeHtml(curve.name)}</title></polyline>`,
      )
      .join("");
  });
  const legend = curves.map(
    (curve, i) =>
      `<g transform="translate(${WIDTH - MARGIN.right - 200},${MARGIN.top + 8 + i * 18})">` +
      `<rect width="14" height="4" y="-4" fill="${seriesColor(i)}"/>` +
      `<text class="legend" x="20" y="0">${escapeHtml(curve.name)}</text></g>`,
  );
  return [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(options.ariaLabel ?? "Training loss by step")}">`,
    ...grid,
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}"/>`,
    `<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom}"/>`,
    ...lines,
    ...legend,
    `<text class="label" x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">step</text>`,
    `<text class="label" transform="translate(16,${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
    "</svg>",
  ].join("\n");
}
