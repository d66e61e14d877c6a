import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkPipelineResult } from "../src/report/checkPipelineResult.js";
import { niceTicks } from "../src/report/niceTicks.js";
import { renderReportHtml } from "../src/report/reportHtml.js";
import { readResultJson } from "../src/report/resultsJson.js";
import { renderResultsMarkdown } from "../src/report/resultsMarkdown.js";
import { writeReport } from "../src/report/writeReport.js";
import { sampleResult } from "./sampleResult.js";

const tmp = mkdtempSync(path.join(tmpdir(), "revela-report-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("renderReportHtml", () => {
  const html = renderReportHtml(sampleResult());

  it("is one self-contained page: no network references, no scripts", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\((?!#)/i);
  });

  it("shows every system with its numbers to 3 decimals", () => {
    for (const system of ["BM25", "Untrained retriever", "Revela"]) expect(html).toContain(system);
    for (const figure of ["0.679", "0.920", "0.646", "0.401", "0.938", "0.650"]) expect(html).toContain(figure);
  });

  it("draws the charts as inline SVG: bars, loss lines, heatmap cells, timing bar", () => {
    expect((html.match(/<svg /g) ?? []).length).toBe(4);
    // One polyline per curve; the NaN point splits the second curve into a line and a lone point.
    expect((html.match(/<polyline /g) ?? []).length).toBe(2);
    expect((html.match(/<circle /g) ?? []).length).toBe(1);
    expect(html).toContain("Contrastive baseline");
    // 4 × 4 heatmap cells, each with its value as a tooltip.
    expect((html.match(/<rect x="\d+" y="\d+" width="\d+" height="\d+" fill="rgb/g) ?? []).length).toBe(16);
    expect(html).toContain("doc-1 → doc-1: 0.00");
    expect(html).toContain("train Revela");
    expect(html).toContain("84.5 %"); // 600 s of 710
  });

  it("draws each learning curve chart with its title and y label, and checks them in results.json", () => {
    const r = sampleResult();
    r.learningCurves = [
      {
        title: "nDCG@10 on the curve slice",
        yLabel: "nDCG@10",
        curves: [
          {
            name: "Revela",
            points: [
              { step: 0, loss: 0.05 },
              { step: 60, loss: 0.09 },
            ],
          },
          {
            name: "Contrastive baseline",
            points: [
              { step: 0, loss: 0.05 },
              { step: 60, loss: 0.07 },
            ],
          },
        ],
      },
    ];
    const page = renderReportHtml(r);
    expect((page.match(/<svg /g) ?? []).length).toBe(5);
    expect(page).toContain("<h2>nDCG@10 on the curve slice</h2>");
    expect(page).toContain('aria-label="nDCG@10 on the curve slice"');
    expect(page).toMatch(/rotate\(-90\)" text-anchor="middle">nDCG@10<\/text>/);
    expect(() => checkPipelineResult(JSON.parse(JSON.stringify(r)), "results.json")).not.toThrow();
    const bad = JSON.parse(JSON.stringify(r));
    bad.learningCurves[0].yLabel = 3;
    expect(() => checkPipelineResult(bad, "results.json")).toThrow(/learningCurves\[0\]\.yLabel/);
  });

  it("escapes every string from the result", () => {
    expect(html).not.toContain("<fused>");
    expect(html).toContain("BM25 + Revela (RRF) &lt;fused&gt;");
    expect(html).toContain("doc-&lt;3&gt;");
    const evil = sampleResult();
    evil.rows[0] = { system: '<script>alert("x")</script>', ndcg10: 0.5, recall100: 0.5, mrr10: 0.5 };
    evil.config = { note: "</pre><script>" };
    const page = renderReportHtml(evil);
    expect(page).not.toContain("<script");
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  });

  it("shows the config and the machine", () => {
    expect(html).toContain("train.temperature");
    expect(html).toContain("0.02");
    expect(html).toContain("AMD EPYC");
    expect(html).toContain("wasm");
  });

  it("says so when there are no weights, losses or timings instead of drawing empty charts", () => {
    const r = sampleResult();
    r.weights = null;
    r.lossCurves = [];
    r.timings = [];
    const page = renderReportHtml(r);
    expect(page).toContain("No document weights were recorded.");
    expect(page).toContain("No loss was recorded.");
    expect(page).toContain("No phase timings were recorded.");
    expect((page.match(/<svg /g) ?? []).length).toBe(1);
  });

  it("refuses a malformed result, naming the field", () => {
    const r = sampleResult() as unknown as Record<string, unknown>;
    (r.rows as Record<string, unknown>[])[1] = { system: "X", ndcg10: "0.5", recall100: 0, mrr10: 0 };
    expect(() => renderReportHtml(r as never)).toThrow(/rows\[1\]\.ndcg10 must be a number in \[0, 1\], got "0\.5"/);
    const w = sampleResult();
    w.weights = { size: 3, values: [0, 1], labels: ["a", "b", "c"] };
    expect(() => renderReportHtml(w)).toThrow(/weights\.values must be 9 numbers/);
    expect(() => checkPipelineResult({ ...sampleResult(), machine: undefined }, "x.json")).toThrow(
      /x\.json: machine must be an object/,
    );
  });
});

describe("writeReport", () => {
  it("writes results.json, report.html and results.md, and results.json reads back equal", async () => {
    const dir = path.join(tmp, "out", "nested");
    const result = sampleResult();
    const files = await writeReport(dir, result);
    expect(files).toEqual({
      json: path.join(dir, "results.json"),
      html: path.join(dir, "report.html"),
      markdown: path.join(dir, "results.md"),
    });
    const back = await readResultJson(files.json);
    // JSON has no NaN: the diverged loss point comes back as null, everything else unchanged.
    const expected = JSON.parse(JSON.stringify(result));
    expect(back).toEqual(expected);
    expect(back.lossCurves[1]?.points[2]?.loss).toBeNull();
    expect(renderReportHtml(back)).toBe(readFileSync(files.html, "utf8"));
    expect(readFileSync(files.markdown, "utf8")).toContain("| BM25 | **0.679** | 0.920 | 0.646 |");
  });

  it("writes nothing for a malformed result", async () => {
    const dir = path.join(tmp, "bad");
    const r = sampleResult();
    r.totalSeconds = Number.NaN;
    await expect(writeReport(dir, r)).rejects.toThrow(/totalSeconds must be a finite number/);
    expect(() => readFileSync(path.join(dir, "results.json"))).toThrow();
  });

  it("reports a results.json that is not one, naming the file", async () => {
    await expect(readResultJson(path.join(tmp, "missing.json"))).rejects.toThrow(
      /cannot read results file .*missing\.json/,
    );
  });
});

describe("renderResultsMarkdown", () => {
  it("gives the table with the dataset, machine and timings", () => {
    const md = renderResultsMarkdown(sampleResult());
    expect(md).toContain("# Revela run on SciFact (embedded)");
    expect(md).toContain("300 queries, 5183 documents");
    expect(md).toContain("| train Revela | 10 min 00 s |");
  });
});

describe("niceTicks", () => {
  it("covers the range with round steps", () => {
    expect(niceTicks(0, 0.68, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(2.1, 9.1, 5)).toEqual([2, 4, 6, 8, 10]);
    expect(niceTicks(1, 1, 5).length).toBeGreaterThan(1);
  });
});
