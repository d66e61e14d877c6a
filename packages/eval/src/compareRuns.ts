import { type EvaluateOptions, type EvaluationResult, evaluateRun } from "./evaluateRun.js";
import type { Qrels, Run } from "./run.js";

export interface RunComparison {
  /** Run names in the order given; the first is the baseline. */
  names: string[];
  results: EvaluationResult[];
  /** The measure that wins/ties/losses are counted on. */
  primary: string;
  /** Per run, against the baseline on `primary`, over queries both evaluated (the baseline's own entry is all ties). */
  versusBaseline: { wins: number; ties: number; losses: number }[];
}

/**
 * Evaluates several runs on the same judgements with the same options, and counts per query how
 * often each beats the first run on the primary measure (default: the first measure, e.g. NDCG@1,
 * so pass `primary: "NDCG@10"` for the BEIR headline figure).
 */
export function compareRuns(
  runs: Map<string, Run> | Record<string, Run>,
  qrels: Qrels,
  options: EvaluateOptions & { primary?: string } = {},
): RunComparison {
  const entries = runs instanceof Map ? [...runs] : Object.entries(runs);
  if (entries.length === 0) throw new Error("compareRuns: no runs given");
  const names = entries.map(([name]) => name);
  const results = entries.map(([, run]) => evaluateRun(run, qrels, options));
  const baseline = results[0] as EvaluationResult;
  const primary = options.primary ?? (baseline.measures[0] as string);
  if (!baseline.measures.includes(primary)) {
    throw new Error(
      `compareRuns: primary measure "${primary}" is not computed; computed: ${baseline.measures.join(", ")}`,
    );
  }
  const versusBaseline = results.map((result) => {
    let wins = 0;
    let ties = 0;
    let losses = 0;
    for (const [queryId, values] of Object.entries(result.perQuery)) {
      const base = baseline.perQuery[queryId];
      if (base === undefined) continue;
      const diff = (values[primary] as number) - (base[primary] as number);
      if (diff > 0) wins++;
      else if (diff < 0) losses++;
      else ties++;
    }
    return { wins, ties, losses };
  });
  return { names, results, primary, versusBaseline };
}

/**
 * A comparison as a markdown table: one row per run, one column per measure (default: all), the best
 * value of each column in bold, and wins/ties/losses against the first run.
 */
export function formatComparisonMarkdown(
  comparison: RunComparison,
  options: { measures?: readonly string[]; digits?: number } = {},
): string {
  const digits = options.digits ?? 4;
  const measures = options.measures ?? (comparison.results[0] as EvaluationResult).measures;
  for (const m of measures) {
    if (!comparison.results.every((r) => m in r.mean)) {
      throw new Error(`formatComparisonMarkdown: measure "${m}" was not computed for every run`);
    }
  }
  const best = measures.map((m) => Math.max(...comparison.results.map((r) => r.mean[m] as number)));
  const baseline = comparison.names[0] as string;
  const lines = [
    `| run | ${measures.join(" | ")} | W/T/L vs ${baseline} (${comparison.primary}) |`,
    `| --- | ${measures.map(() => "---:").join(" | ")} | ---: |`,
  ];
  comparison.results.forEach((result, i) => {
    const cells = measures.map((m, j) => {
      const text = (result.mean[m] as number).toFixed(digits);
      return result.mean[m] === best[j] && comparison.results.length > 1 ? `**${text}**` : text;
    });
    const { wins, ties, losses } = comparison.versusBaseline[i] as { wins: number; ties: number; losses: number };
    const versus = i === 0 ? "—" : `${wins}/${ties}/${losses}`;
    lines.push(`| ${comparison.names[i]} | ${cells.join(" | ")} | ${versus} |`);
  });
  return `${lines.join("\n")}\n`;
}
