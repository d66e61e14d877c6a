import type { ResultRow } from "../pipeline/pipelineResult.js";

/** The three measures every results table shows, in column order. */
export const RESULT_COLUMNS = [
  { key: "ndcg10", label: "nDCG@10" },
  { key: "recall100", label: "Recall@100" },
  { key: "mrr10", label: "MRR@10" },
] as const;

export type ResultMeasure = (typeof RESULT_COLUMNS)[number]["key"];

/** A measure as every table prints it: 3 decimals. */
export const formatMeasure = (value: number): string => value.toFixed(3);

function checkRows(rows: readonly ResultRow[], op: string): void {
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${op}: rows must be a non-empty array of results`);
  rows.forEach((row, i) => {
    if (typeof row?.system !== "string" || row.system.trim() === "") {
      throw new Error(`${op}: rows[${i}].system must be a non-empty string, got ${JSON.stringify(row?.system)}`);
    }
    for (const { key } of RESULT_COLUMNS) {
      const v = row[key];
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
        throw new Error(
          `${op}: rows[${i}].${key} (${row.system}) must be a number in [0, 1], got ${JSON.stringify(v)}`,
        );
      }
    }
  });
}

/**
 * For each measure, which rows hold the column's best value. Compared as printed (3 decimals), so
 * that two rows that read the same are both marked rather than one winning on an invisible digit.
 */
export function bestRows(rows: readonly ResultRow[]): Record<ResultMeasure, Set<number>> {
  const best = {} as Record<ResultMeasure, Set<number>>;
  for (const { key } of RESULT_COLUMNS) {
    const shown = rows.map((r) => Number(formatMeasure(r[key])));
    const max = Math.max(...shown);
    best[key] = new Set(shown.flatMap((v, i) => (v === max ? [i] : [])));
  }
  return best;
}

/**
 * The results as a fixed-width table for a terminal: one row per system, the best value of each
 * column marked with `*` (a marker rather than colour, so it survives logs and pipes).
 */
export function formatResultsTable(rows: readonly ResultRow[]): string {
  checkRows(rows, "formatResultsTable");
  const best = bestRows(rows);
  const header = ["system", ...RESULT_COLUMNS.map((c) => c.label)];
  const body = rows.map((row, i) => [
    row.system,
    ...RESULT_COLUMNS.map(({ key }) => `${formatMeasure(row[key])}${best[key].has(i) ? "*" : " "}`),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((cells) => (cells[c] as string).length)));
  // Numbers right-aligned (with the marker column inside the cell, so the decimals line up).
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line), "* best in column"].join("\n");
}

/** Escapes what markdown table cells cannot hold literally. */
const markdownCell = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The results as a markdown table, the best value of each column in bold. */
export function formatResultsMarkdownTable(rows: readonly ResultRow[]): string {
  checkRows(rows, "formatResultsMarkdownTable");
  const best = bestRows(rows);
  const lines = [
    `| system | ${RESULT_COLUMNS.map((c) => c.label).join(" | ")} |`,
    `| --- | ${RESULT_COLUMNS.map(() => "---:").join(" | ")} |`,
    ...rows.map(
      (row, i) =>
        `| ${markdownCell(row.system)} | ${RESULT_COLUMNS.map(({ key }) => {
          const text = formatMeasure(row[key]);
          return best[key].has(i) ? `**${text}**` : text;
        }).join(" | ")} |`,
    ),
  ];
  return lines.join("\n");
}
