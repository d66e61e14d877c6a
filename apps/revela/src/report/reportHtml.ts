import type { PipelineResult } from "../pipeline/pipelineResult.js";
import { checkPipelineResult } from "./checkPipelineResult.js";
import { escapeHtml } from "./escapeHtml.js";
import { renderLossChart } from "./lossChart.js";
import { renderNdcgBarChart } from "./ndcgBarChart.js";
import { bestRows, formatMeasure, RESULT_COLUMNS } from "./resultsTable.js";
import { formatSeconds, renderTimings } from "./timingChart.js";
import { renderWeightHeatmap } from "./weightHeatmap.js";

// Everything the page needs is in the page: it is opened from disk, often on a machine without a
// network, and a report must look the same in a year. So: system fonts, inline CSS, inline SVG.
const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 2rem auto; max-width: 900px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #555; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; }
tr.total td { font-weight: 600; border-top: 1px solid #bbb; }
pre { background: #f6f8fa; padding: .8rem; overflow: auto; font-size: 12px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
svg.chart { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
svg .grid { stroke: #eee; }
svg .axis { stroke: #888; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
svg text.cell { font-size: 9px; }
svg text.label, svg text.bar-label { font-size: 12px; fill: #222; }
.swatch { display: inline-block; width: .8em; height: .8em; margin-right: .4em; vertical-align: -.05em; }
.empty { color: #777; font-style: italic; }
.note { color: #555; font-size: 13px; }
`;

const isSection = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The config as dotted key → JSON value rows (`lora.r` → `16`), nested sections flattened. */
function configRows(config: Record<string, unknown>, prefix = ""): [string, string][] {
  return Object.entries(config).flatMap(([key, value]): [string, string][] =>
    isSection(value) && Object.keys(value).length > 0
      ? configRows(value, `${prefix}${key}.`)
      : [[`${prefix}${key}`, JSON.stringify(value) ?? String(value)]],
  );
}

function resultsTableHtml(result: PipelineResult): string {
  if (result.rows.length === 0) return `<p class="empty">No systems were evaluated.</p>`;
  const best = bestRows(result.rows);
  return [
    `<table class="results"><thead><tr><th>system</th>${RESULT_COLUMNS.map((c) => `<th class="num">${c.label}</th>`).join("")}</tr></thead><tbody>`,
    ...result.rows.map(
      (row, i) =>
        `<tr><td>${escapeHtml(row.system)}</td>${RESULT_COLUMNS.map(
          ({ key }) => `<td class="num${best[key].has(i) ? " best" : ""}">${formatMeasure(row[key])}</td>`,
        ).join("")}</tr>`,
    ),
    "</tbody></table>",
    `<p class="note">Bold: best in column. Means over ${result.queries} queries; ${result.documents} documents searched.</p>`,
  ].join("\n");
}

function keyValueTable(rows: readonly [string, string][]): string {
  return `<table class="kv"><tbody>${rows
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td><code>${escapeHtml(v)}</code></td></tr>`)
    .join("")}</tbody></table>`;
}

/**
 * One run's report as a self-contained HTML page: results table, nDCG@10 bars, loss curves, the
 * document weights of one batch, where the time went, the machine and the full config. No
 * scripts, fonts, stylesheets or images are fetched; every chart is inline SVG generated here, and
 * every string from the result is escaped.
 */
export function renderReportHtml(result: PipelineResult): string {
  checkPipelineResult(result, "renderReportHtml");
  const m = result.machine;
  const title = `Revela run on ${result.dataset}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">Started ${escapeHtml(result.startedAt)} · ${escapeHtml(formatSeconds(result.totalSeconds))} in all · ${escapeHtml(m.backend)} backend, ${m.threads} thread${m.threads === 1 ? "" : "s"}</p>

<h2>Results</h2>
${resultsTableHtml(result)}

<h2>nDCG@10 per system</h2>
${renderNdcgBarChart(result.rows)}

<h2>Training loss</h2>
${renderLossChart(result.lossCurves)}
${(result.learningCurves ?? [])
  .map((c) => `<h2>${escapeHtml(c.title)}</h2>\n${renderLossChart(c.curves, { yLabel: c.yLabel, ariaLabel: c.title })}`)
  .join("\n")}

<h2>Document weights W of one batch</h2>
<p class="note">Row: a chunk as the query; column: the chunk it attends to (labels are document ids). Each row sums to 1; the diagonal is excluded.</p>
${renderWeightHeatmap(result.weights)}

<h2>Where the time went</h2>
${renderTimings(result.timings, result.totalSeconds)}

<h2>Machine</h2>
${keyValueTable([
  ["backend", m.backend],
  ["threads", String(m.threads)],
  ["cores", String(m.cores)],
  ["cpu", m.cpu],
  ["platform", m.platform],
  ["node", m.node],
  ["tfjs", m.tfjs],
])}

<h2>Config</h2>
${keyValueTable(configRows(result.config))}
<pre>${escapeHtml(JSON.stringify(result.config, null, 2))}</pre>
</body>
</html>
`;
}
