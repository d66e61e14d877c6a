/** What one run of the pipeline produces; results.json is this object, report.html renders it. */
export interface ResultRow {
  /** e.g. "BM25", "Untrained retriever", "Revela", "Contrastive baseline", "BM25 + Revela (RRF)". */
  system: string;
  ndcg10: number;
  recall100: number;
  mrr10: number;
}

export interface LossCurve {
  name: string;
  points: { step: number; loss: number }[];
}

/** A chart of curves sharing one y axis: retrieval quality during training, or W's diagnostics. */
export interface LearningCurve {
  title: string;
  yLabel: string;
  curves: LossCurve[];
}

export interface WeightMatrix {
  /** B × B row-major document weights W of one batch after training. */
  size: number;
  values: number[];
  /** One label per chunk (its document id). */
  labels: string[];
}

export interface PhaseTiming {
  phase: string;
  seconds: number;
}

export interface MachineInfo {
  backend: string;
  threads: number;
  cores: number;
  node: string;
  tfjs: string;
  platform: string;
  cpu: string;
}

export interface PipelineResult {
  dataset: string;
  /** Queries and documents evaluated. */
  queries: number;
  documents: number;
  rows: ResultRow[];
  lossCurves: LossCurve[];
  /** Absent in results written before learning curves existed. */
  learningCurves?: LearningCurve[];
  weights: WeightMatrix | null;
  config: Record<string, unknown>;
  machine: MachineInfo;
  timings: PhaseTiming[];
  startedAt: string;
  totalSeconds: number;
}
