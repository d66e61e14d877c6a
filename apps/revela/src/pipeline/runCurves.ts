import { type RunLog, readMetricSeries } from "@revela/trainer";
import type { LearningCurve, LossCurve } from "./pipelineResult.js";

/** One figure of a run's log as a chart curve (the trainer reads its own logs). */
export function series(runDir: string, name: string, key = "loss", log: RunLog = "metrics"): LossCurve {
  return { name, points: readMetricSeries(runDir, key, log).map((p) => ({ step: p.step, loss: p.value })) };
}

/** The retrieval curves of Revela and the baseline, and W's diagnostics during Revela training. */
export function learningCurves(
  revelaDir: string,
  contrastiveDir: string | null,
  warmupDir: string | null,
): LearningCurve[] {
  const evals = (key: string) => [
    series(revelaDir, "Revela", key, "evals"),
    ...(contrastiveDir ? [series(contrastiveDir, "Contrastive baseline", key, "evals")] : []),
  ];
  const w = (key: string, name: string) => series(revelaDir, name, key);
  return [
    { title: "nDCG@10 on the curve slice", yLabel: "nDCG@10", curves: evals("ndcg10") },
    { title: "Recall@100 on the curve slice", yLabel: "Recall@100", curves: evals("recall100") },
    {
      title: "Document weights W during Revela training (per batch)",
      yLabel: "mass / weight",
      curves: [
        w("meanMaxWeight", "mean max Wᵢⱼ"),
        w("sameDocumentMass", "mass on same-document chunks"),
        w("bm25NeighbourMass", "mass on the BM25 neighbour"),
      ],
    },
    {
      title: "Does the LM read related chunks? (pass-2 loss, other documents − same document)",
      yLabel: "nats",
      curves: [
        ...(warmupDir ? [series(warmupDir, "LM warm-up", "readingGain", "evals")] : []),
        series(revelaDir, "Revela", "readingGain", "evals"),
      ],
    },
    {
      title: "Entropy of W's rows during Revela training",
      yLabel: "nats",
      curves: [w("weightEntropy", "entropy of W")],
    },
  ].filter((c) => c.curves.some((s) => s.points.length > 0));
}
