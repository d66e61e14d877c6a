/**
 * @revela/test-backends (private): `describeEachBackend` for the suites of packages built on
 * @revela/kernels — each suite runs once on cpu (the plain reference backend) and once on wasm as
 * the kernels set it up. The kernels' own suites use `backendSuites` directly (they also try the
 * native backends, and this package depends on them).
 */
import { type BackendName, initBackend } from "@revela/kernels";
import { backendSuites } from "@revela/test-numerics";
import * as tf from "@tensorflow/tfjs";

export const BACKENDS: readonly BackendName[] = ["cpu", "wasm"];

/** Runs `suite` once per backend of `BACKENDS`, with that backend active. */
export const describeEachBackend: (title: string, suite: (backend: BackendName) => void) => void = backendSuites({
  backends: BACKENDS,
  activate: async (backend) => {
    await initBackend({ backend });
  },
  active: () => tf.getBackend(),
});
