import { describe, expect, it } from "vitest";
import { bestRows, formatResultsMarkdownTable, formatResultsTable } from "../src/report/resultsTable.js";
import { sampleResult } from "./sampleResult.js";

describe("formatResultsTable", () => {
  it("prints a fixed-width table with 3 decimals and the best of each column marked", () => {
    const rows = sampleResult().rows.slice(0, 3);
    expect(formatResultsTable(rows)).toBe(
      [
        "system               nDCG@10  Recall@100  MRR@10",
        "-------------------  -------  ----------  ------",
        "BM25                  0.679*      0.920*  0.646*",
        "Untrained retriever   0.012       0.087   0.010",
        "Revela                0.401       0.801   0.383",
        "* best in column",
      ].join("\n"),
    );
  });

  it("marks every row that reads as the best, comparing the printed values", () => {
    // 0.6791 and 0.6789 both print as 0.679: both are marked, not the one with an invisible lead.
    const best = bestRows(sampleResult().rows);
    expect([...best.ndcg10]).toEqual([0, 3]);
    expect([...best.recall100]).toEqual([3]);
    expect([...best.mrr10]).toEqual([3]);
  });

  it("keeps every column aligned whatever the name lengths", () => {
    const lines = formatResultsTable(sampleResult().rows).split("\n").slice(0, -1);
    const header = lines[0] as string;
    for (const line of lines.slice(2)) {
      // The last column ends at the same place on every row (marker included or padded).
      expect(line.length).toBeLessThanOrEqual(header.length);
      expect(line.slice(header.indexOf("nDCG@10") + 2, header.indexOf("nDCG@10") + 3)).toBe(".");
    }
  });

  it("rejects rows it cannot print, naming the row and field", () => {
    expect(() => formatResultsTable([])).toThrow(/non-empty array/);
    expect(() => formatResultsTable([{ system: "X", ndcg10: Number.NaN, recall100: 0.5, mrr10: 0.5 }])).toThrow(
      /rows\[0\]\.ndcg10 \(X\) must be a number in \[0, 1\]/,
    );
    expect(() => formatResultsTable([{ system: "", ndcg10: 0.1, recall100: 0.5, mrr10: 0.5 }])).toThrow(
      /rows\[0\]\.system/,
    );
    expect(() => formatResultsTable([{ system: "Y", ndcg10: 0.1, recall100: 1.5, mrr10: 0.5 }])).toThrow(/recall100/);
  });
});

describe("formatResultsMarkdownTable", () => {
  it("writes a markdown table with the best values in bold and pipes escaped", () => {
    const rows = [
      { system: "BM25", ndcg10: 0.6791, recall100: 0.9203, mrr10: 0.6462 },
      { system: "a|b", ndcg10: 0.5, recall100: 0.95, mrr10: 0.6 },
    ];
    expect(formatResultsMarkdownTable(rows)).toBe(
      [
        "| system | nDCG@10 | Recall@100 | MRR@10 |",
        "| --- | ---: | ---: | ---: |",
        "| BM25 | **0.679** | 0.920 | **0.646** |",
        "| a\\|b | 0.500 | **0.950** | 0.600 |",
      ].join("\n"),
    );
  });
});
