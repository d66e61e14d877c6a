import * as tf from "@tensorflow/tfjs";

/**
 * Gradient checking: central finite differences of the float64 references (test/support/
 * float64Ops.ts) against the analytic gradients tfjs computes in float32.
 */

type Values = ArrayLike<number>;

/** g[i] = (f(x + eps·eᵢ) − f(x − eps·eᵢ)) / 2eps, evaluated in float64. */
export function centralDifferences(f: (x: Float64Array) => number, x: Values, eps = 1e-5): Float64Array {
  const point = Float64Array.from(x);
  const grad = new Float64Array(point.length);
  for (let i = 0; i < point.length; i++) {
    const xi = point[i] as number;
    point[i] = xi + eps;
    const up = f(point);
    point[i] = xi - eps;
    const down = f(point);
    point[i] = xi;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** Σᵢ aᵢ·bᵢ in float64. */
export function dot(a: Values, b: Values): number {
  if (a.length !== b.length) throw new Error(`dot: lengths differ (${a.length} vs ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/**
 * Vector–Jacobian products of a float64 reference by central differences: for each input k, the
 * gradient of Σ f(inputs) ⊙ cotangent with respect to inputs[k], the others held fixed.
 */
export function finiteDifferenceVjp(
  f: (inputs: readonly Float64Array[]) => Values,
  inputs: readonly Values[],
  cotangent: Values,
  eps = 1e-5,
): Float64Array[] {
  const point: Float64Array[] = inputs.map((v) => Float64Array.from(v));
  return point.map((_, k) =>
    centralDifferences(
      (xk) => {
        const args = point.slice();
        args[k] = xk;
        return dot(f(args), cotangent);
      },
      point[k] as Float64Array,
      eps,
    ),
  );
}

/**
 * The analytic gradients tfjs computes for Σ f(inputs) ⊙ cotangent, one Float32Array per input.
 * Everything is created and disposed inside tf.tidy.
 */
export function tfVjp(
  f: (...inputs: tf.Tensor[]) => tf.Tensor,
  inputs: readonly { values: Float32Array; shape: readonly number[] }[],
  cotangent: { values: Values; shape: readonly number[] },
): Float32Array[] {
  const grads = tf.tidy(() => {
    const dy = tf.tensor(Float32Array.from(cotangent.values), [...cotangent.shape]);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)));
    return g(inputs.map((x) => tf.tensor(x.values, [...x.shape])));
  });
  const values = grads.map((t) => t.dataSync() as Float32Array);
  tf.dispose(grads);
  return values;
}

/**
 * max |actual − expected| divided by max(1, max |expected|): an absolute error for values of order
 * one and below, a relative one for larger values. NaN anywhere gives Infinity.
 */
export function scaledMaxError(actual: Values, expected: Values): number {
  if (actual.length !== expected.length) {
    throw new Error(`scaledMaxError: lengths differ (${actual.length} vs ${expected.length})`);
  }
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number));
  let m = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m / scale;
}

/** Largest |value|; used to check that a gradient under test is not trivially zero. */
export function maxAbs(values: Values): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i] as number));
  return m;
}
