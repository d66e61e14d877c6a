import type { WeightMatrix } from "../pipeline/pipelineResult.js";
import { escapeHtml } from "./escapeHtml.js";

const LABEL_W = 130;
const MAX_GRID = 520;

const shorten = (text: string, max = 16) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** White → dark blue, linear in t ∈ [0, 1] (ColorBrewer's Blues end points). */
function blue(t: number): string {
  const from = [247, 251, 255];
  const to = [8, 48, 107];
  const c = from.map((f, i) => Math.round(f + ((to[i] as number) - f) * Math.min(1, Math.max(0, t))));
  return `rgb(${c.join(",")})`;
}

/**
 * The document weights W of one batch as a heatmap: row i is chunk i (as a query), column j the
 * chunk it attends to, labelled with the chunks' document ids. With the paper's τ = 1e-4 each row
 * is nearly one-hot, so the picture shows which chunk each chunk picked; the diagonal is 0 by
 * construction (a chunk never retrieves itself). The colour scale runs from 0 to the largest weight.
 */
export function renderWeightHeatmap(weights: WeightMatrix | null): string {
  if (weights === null) return `<p class="empty">No document weights were recorded.</p>`;
  const n = weights.size;
  const cell = Math.max(4, Math.min(28, Math.floor(MAX_GRID / n)));
  const grid = cell * n;
  const top = LABEL_W;
  const width = LABEL_W + grid + 90;
  const height = top + grid + 20;
  const max = Math.max(...weights.values, 1e-12);
  // Values are printed in the cells only when they are large enough to hold them.
  const showValues = cell >= 24;
  const labels = weights.labels.map((l) => escapeHtml(shorten(l)));
  const parts = [
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Document weights W">`,
    `<defs><linearGradient id="w-scale" x1="0" x2="0" y1="1" y2="0"><stop offset="0" stop-color="${blue(0)}"/><stop offset="1" stop-color="${blue(1)}"/></linearGradient></defs>`,
  ];
  for (let i = 0; i < n; i++) {
    const y = top + i * cell;
    parts.push(
      `<text class="tick" x="${LABEL_W - 6}" y="${y + cell / 2 + 4}" text-anchor="end">${labels[i]}</text>`,
      `<text class="tick" transform="translate(${LABEL_W + i * cell + cell / 2 + 4},${top - 6}) rotate(-60)">${labels[i]}</text>`,
    );
    for (let j = 0; j < n; j++) {
      const v = weights.values[i * n + j] as number;
      const t = v / max;
      const x = LABEL_W + j * cell;
      const title = `${escapeHtml(weights.labels[i] as string)} → ${escapeHtml(weights.labels[j] as string)}: ${v.toPrecision(3)}`;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${blue(t)}"><title>${title}</title></rect>`,
      );
      // An inline style, not a fill attribute: the page's CSS colours svg text and would win over it.
      if (showValues && v >= 0.005) {
        parts.push(
          `<text class="cell" x="${x + cell / 2}" y="${y + cell / 2 + 3}" text-anchor="middle" style="fill:${t > 0.5 ? "#fff" : "#222"}">${v.toFixed(2)}</text>`,
        );
      }
    }
  }
  const lx = LABEL_W + grid + 20;
  parts.push(
    `<rect x="${lx}" y="${top}" width="14" height="${grid}" fill="url(#w-scale)" stroke="#999"/>`,
    `<text class="tick" x="${lx + 20}" y="${top + 10}">${max.toPrecision(3)}</text>`,
    `<text class="tick" x="${lx + 20}" y="${top + grid}">0</text>`,
    "</svg>",
  );
  return parts.join("\n");
}
