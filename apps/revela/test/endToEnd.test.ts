import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultDatasetDir } from "../src/data/defaultDataset.js";
import type { PipelineResult } from "../src/pipeline/pipelineResult.js";
import { runPipeline } from "../src/pipeline/runPipeline.js";
import { runRevela } from "./cliHarness.js";

/** A small slice of the embedded SciFact: 12 test queries, their relevant abstracts and 60 others. */
function sciFactSlice(): string {
  const src = defaultDatasetDir();
  const qrels = readFileSync(path.join(src, "qrels", "test.tsv"), "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split("\t"));
  const queryIds = [...new Set(qrels.map((r) => r[0] as string))].slice(0, 12);
  const kept = qrels.filter((r) => queryIds.includes(r[0] as string));
  const relevant = new Set(kept.map((r) => r[1] as string));
  const corpus = readFileSync(path.join(src, "corpus.jsonl"), "utf8").trim().split("\n");
  const docs = [
    ...corpus.filter((l) => relevant.has((JSON.parse(l) as { _id: string })._id)),
    ...corpus.filter((l) => !relevant.has((JSON.parse(l) as { _id: string })._id)).slice(0, 60),
  ];
  const queries = readFileSync(path.join(src, "queries.jsonl"), "utf8")
    .trim()
    .split("\n")
    .filter((l) => queryIds.includes((JSON.parse(l) as { _id: string })._id));
  const dir = mkdtempSync(path.join(os.tmpdir(), "revela-e2e-data-"));
  mkdirSync(path.join(dir, "qrels"));
  writeFileSync(path.join(dir, "corpus.jsonl"), `${docs.join("\n")}\n`);
  writeFileSync(path.join(dir, "queries.jsonl"), `${queries.join("\n")}\n`);
  writeFileSync(
    path.join(dir, "qrels", "test.tsv"),
    `query-id\tcorpus-id\tscore\n${kept.map((r) => r.join("\t")).join("\n")}\n`,
  );
  return dir;
}

describe("revela train, end to end on a slice of SciFact", () => {
  it("trains a few steps, evaluates every system, writes the report and a retriever that eval can load", async () => {
    const data = sciFactSlice();
    const out = mkdtempSync(path.join(os.tmpdir(), "revela-e2e-out-"));
    const run = await runRevela(["train", "--data", data, "--steps", "3", "--minutes", "3", "--out", out], {
      pipeline: (config, io) => runPipeline(config, io),
    });
    expect(run.stderr.split("\n").filter((l) => l.startsWith("revela: "))).toEqual([]);
    expect(run.code).toBe(0);
    const result = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as PipelineResult;
    expect(result.rows.map((r) => r.system)).toEqual([
      "BM25",
      "Untrained retriever",
      "Revela",
      "Contrastive baseline",
      "BM25 + Revela (RRF)",
    ]);
    for (const row of result.rows) {
      for (const v of [row.ndcg10, row.recall100, row.mrr10]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    // BM25 on this slice finds most relevant abstracts among ~80 documents.
    expect(result.rows[0]!.ndcg10).toBeGreaterThan(0.5);
    expect(result.config.trainedSteps).toBe(3);
    expect(result.lossCurves.find((c) => c.name === "revela")!.points).toHaveLength(3);
    expect(result.weights!.size).toBeGreaterThanOrEqual(16);
    // Learning curves: the slice evaluated before training and at the stop, for Revela and the baseline.
    const ndcgChart = result.learningCurves!.find((c) => c.yLabel === "nDCG@10")!;
    expect(ndcgChart.curves.map((c) => [c.name, c.points.map((p) => p.step)])).toEqual([
      ["Revela", [0, 3]],
      ["Contrastive baseline", [0, 3]],
    ]);
    // Both start from the same weights, so their step-0 figures are equal.
    expect(ndcgChart.curves[0]!.points[0]!.loss).toBe(ndcgChart.curves[1]!.points[0]!.loss);
    const wChart = result.learningCurves!.find((c) => c.title.startsWith("Document weights"))!;
    expect(wChart.curves.map((c) => c.name)).toContain("mass on the BM25 neighbour");
    // The reading probe: the LM's loss with other documents' chunks minus with same-document ones,
    // measured in the LM warm-up and in Revela training (a finite figure in nats at each evaluation).
    const readingChart = result.learningCurves!.find((c) => c.title.startsWith("Does the LM read"))!;
    expect(readingChart.curves.map((c) => c.name)).toEqual(["LM warm-up", "Revela"]);
    for (const curve of readingChart.curves) {
      expect(curve.points.length).toBeGreaterThanOrEqual(2);
      for (const p of curve.points) expect(Math.abs(p.loss)).toBeLessThan(5);
    }
    const html = readFileSync(path.join(out, "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain("Revela");
    expect(run.stdout).toContain("BM25");
    expect(existsSync(path.join(out, "retriever", "retriever.json"))).toBe(true);

    const evalRun = await runRevela(["eval", "--retriever", path.join(out, "retriever"), "--data", data]);
    expect(evalRun.code).toBe(0);
    // The saved retriever scores exactly as the pipeline's Revela row.
    expect(evalRun.stdout).toContain(result.rows[2]!.ndcg10.toFixed(3));
  }, 600_000);
});
