import type { PipelineResult } from "../pipeline/pipelineResult.js";

const kindOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Throws unless `value` has PipelineResult's shape, naming the first field that is wrong (as a path
 * like `rows[2].ndcg10`). The report is rendered from results.json files too, which may be old,
 * hand-edited or truncated; a wrong field should fail here, not as a NaN bar in the chart.
 */
export function checkPipelineResult(value: unknown, source = "result"): asserts value is PipelineResult {
  const fail = (path: string, want: string, got: unknown): never => {
    throw new Error(`${source}: ${path} must be ${want}, got ${got === undefined ? "nothing" : JSON.stringify(got)}`);
  };
  const str = (o: Record<string, unknown>, key: string, path: string) => {
    if (typeof o[key] !== "string") fail(`${path}${key}`, "a string", o[key]);
  };
  const num = (o: Record<string, unknown>, key: string, path: string, min = Number.NEGATIVE_INFINITY) => {
    const v = o[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
      fail(`${path}${key}`, min === 0 ? "a finite number ≥ 0" : "a finite number", v);
    }
  };
  const arr = (o: Record<string, unknown>, key: string, path: string): unknown[] => {
    const v = o[key];
    if (!Array.isArray(v)) return fail(`${path}${key}`, "an array", kindOf(v));
    return v;
  };

  if (!isObject(value)) return fail("the result", "an object", kindOf(value));
  str(value, "dataset", "");
  num(value, "queries", "", 0);
  num(value, "documents", "", 0);
  for (const [i, row] of arr(value, "rows", "").entries()) {
    const p = `rows[${i}].`;
    if (!isObject(row)) return fail(`rows[${i}]`, "an object", kindOf(row));
    str(row, "system", p);
    for (const key of ["ndcg10", "recall100", "mrr10"]) {
      const v = row[key];
      // Measures are means of per-query values in [0, 1]; anything else is a broken evaluation.
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) fail(`${p}${key}`, "a number in [0, 1]", v);
    }
  }
  const checkCurves = (holder: Record<string, unknown>, key: string, where: string) => {
    for (const [i, curve] of arr(holder, key, where).entries()) {
      const p = `${where}${key}[${i}].`;
      if (!isObject(curve)) return fail(`${where}${key}[${i}]`, "an object", kindOf(curve));
      str(curve, "name", p);
      for (const [j, point] of arr(curve, "points", p).entries()) {
        const q = `${p}points[${j}].`;
        if (!isObject(point)) return fail(`${p}points[${j}]`, "an object", kindOf(point));
        num(point, "step", q);
        // A diverged run's loss is NaN or Infinity; JSON writes those as null. The chart skips them.
        if (point.loss !== null && typeof point.loss !== "number") fail(`${q}loss`, "a number or null", point.loss);
      }
    }
  };
  checkCurves(value, "lossCurves", "");
  // Optional: results written before learning curves existed have none.
  if (value.learningCurves !== undefined) {
    for (const [i, chart] of arr(value, "learningCurves", "").entries()) {
      const p = `learningCurves[${i}].`;
      if (!isObject(chart)) return fail(`learningCurves[${i}]`, "an object", kindOf(chart));
      str(chart, "title", p);
      str(chart, "yLabel", p);
      checkCurves(chart, "curves", p);
    }
  }
  const w = value.weights;
  if (w !== null) {
    if (!isObject(w)) return fail("weights", "an object or null", kindOf(w));
    const size = w.size;
    if (typeof size !== "number" || !Number.isInteger(size) || size < 1)
      fail("weights.size", "a positive integer", size);
    const n = size as number;
    const values = arr(w, "values", "weights.");
    if (values.length !== n * n) fail("weights.values", `${n * n} numbers (size × size)`, `${values.length} values`);
    values.forEach((v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v)) fail(`weights.values[${i}]`, "a finite number", v);
    });
    const labels = arr(w, "labels", "weights.");
    if (labels.length !== n) fail("weights.labels", `${n} labels (one per chunk)`, `${labels.length} labels`);
    labels.forEach((l, i) => {
      if (typeof l !== "string") fail(`weights.labels[${i}]`, "a string", l);
    });
  }
  if (!isObject(value.config)) fail("config", "an object", kindOf(value.config));
  const m = value.machine;
  if (!isObject(m)) return fail("machine", "an object", kindOf(m));
  for (const key of ["backend", "node", "tfjs", "platform", "cpu"]) str(m, key, "machine.");
  num(m, "threads", "machine.", 0);
  num(m, "cores", "machine.", 0);
  for (const [i, t] of arr(value, "timings", "").entries()) {
    const p = `timings[${i}].`;
    if (!isObject(t)) return fail(`timings[${i}]`, "an object", kindOf(t));
    str(t, "phase", p);
    num(t, "seconds", p, 0);
  }
  str(value, "startedAt", "");
  num(value, "totalSeconds", "", 0);
}
