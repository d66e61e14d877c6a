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
