import type { PipelineResult } from "../src/pipeline/pipelineResult.js";

/** A hand-made PipelineResult: what the report and CLI tests render, with no model trained. */
export function sampleResult(): PipelineResult {
  const labels = ["doc-1", "doc-1", "doc-2", "doc-<3>"];
  const n = labels.length;
  // Nearly one-hot rows with a zero diagonal, as W is after training.
  const values = Array.from({ length: n * n }, (_, k) => {
    const i = Math.floor(k / n);
    const j = k % n;
    if (i === j) return 0;
    return j === (i + 1) % n ? 0.94 : 0.03;
  });
  return {
    dataset: "SciFact (embedded)",
    queries: 300,
    documents: 5183,
    rows: [
      { system: "BM25", ndcg10: 0.6791, recall100: 0.9203, mrr10: 0.6462 },
      { system: "Untrained retriever", ndcg10: 0.0123, recall100: 0.0871, mrr10: 0.0101 },
      { system: "Revela", ndcg10: 0.4012, recall100: 0.8011, mrr10: 0.3833 },
      { system: "BM25 + Revela (RRF) <fused>", ndcg10: 0.6789, recall100: 0.9377, mrr10: 0.6499 },
    ],
    lossCurves: [
      {
        name: "Revela",
        points: [
          { step: 1, loss: 9.1 },
          { step: 2, loss: 8.4 },
          { step: 3, loss: 7.9 },
          { step: 4, loss: 7.2 },
        ],
      },
      {
        name: "Contrastive baseline",
        points: [
          { step: 1, loss: 2.8 },
          { step: 2, loss: 2.5 },
          { step: 3, loss: Number.NaN },
          { step: 4, loss: 2.1 },
        ],
      },
    ],
    weights: { size: n, values, labels },
    config: {
      data: null,
      seed: 0,
      minutes: 20,
      model: { dir: null, loraR: 0 },
      train: { steps: 4, temperature: 0.02 },
    },
    machine: {
      backend: "wasm",
      threads: 2,
      cores: 2,
      node: "v20.20.0",
      tfjs: "4.22.0",
      platform: "linux x64",
      cpu: "AMD EPYC",
    },
    timings: [
      { phase: "load dataset", seconds: 1.25 },
      { phase: "BM25", seconds: 4.5 },
      { phase: "train Revela", seconds: 600 },
      { phase: "evaluate Revela", seconds: 95.2 },
    ],
    startedAt: "2026-11-25T20:00:00.000Z",
    totalSeconds: 710,
  };
}
