/**
 * @revela/test-numerics (private): what every numerical spec suite of Revela.js needs besides its
 * own float64 references — seeded inputs, comparisons that never let a NaN pass, finite differences,
 * and the harness that runs a suite once per backend.
 */
export { type BackendSuitesOptions, backendSuites } from "./backendSuites.js";
export { maxAbs, maxAbsDiff, scaledMaxError } from "./compare.js";
export { centralDifferences, dot, finiteDifferenceVjp } from "./finiteDifferences.js";
export { seededValues, size } from "./seededValues.js";
