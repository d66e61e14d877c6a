import type { EvaluationResult } from "./evaluateRun.js";

/**
 * Results as JSON text: the means and counts, and per-query values when `perQuery` is true
 * (they are most of the size: 10k queries × 30 measures).
 */
export function formatResultsJson(
  result: EvaluationResult,
  options: { perQuery?: boolean; indent?: number } = {},
): string {
  const { perQuery, ...summary } = result;
  return JSON.stringify(options.perQuery ? { ...summary, perQuery } : summary, null, options.indent ?? 2);
}

/**
 * Mean results as a markdown table, one row per measure and one column per cutoff, as BEIR prints
 * them; a measure missing at some cutoff leaves its cell empty.
 */
export function formatResultsMarkdown(result: EvaluationResult, options: { digits?: number } = {}): string {
  const digits = options.digits ?? 4;
  const rows = new Map<string, Map<string, number>>();
  const cutoffs: string[] = [];
  for (const name of result.measures) {
    const [measure, k] = splitName(name);
    if (!cutoffs.includes(k)) cutoffs.push(k);
    let row = rows.get(measure);
    if (row === undefined) {
      row = new Map();
      rows.set(measure, row);
    }
    row.set(k, result.mean[name] as number);
  }
  const lines = [
    `| measure | ${cutoffs.map((k) => `@${k}`).join(" | ")} |`,
    `| --- | ${cutoffs.map(() => "---:").join(" | ")} |`,
  ];
  for (const [measure, row] of rows) {
    const cells = cutoffs.map((k) => (row.has(k) ? (row.get(k) as number).toFixed(digits) : ""));
    lines.push(`| ${measure} | ${cells.join(" | ")} |`);
  }
  lines.push("", `${result.numQueries} queries.`);
  return `${lines.join("\n")}\n`;
}

/** "NDCG@10" → ["NDCG", "10"]. */
export function splitName(name: string): [string, string] {
  const at = name.lastIndexOf("@");
  return at < 0 ? [name, ""] : [name.slice(0, at), name.slice(at + 1)];
}
