import { beforeAll, describe } from "vitest";

export interface BackendSuitesOptions<B extends string> {
  /** The backends to run every suite on, in order. */
  backends: readonly B[];
  /** Makes `backend` the active one (e.g. @revela/kernels' `initBackend`). */
  activate: (backend: B) => Promise<void>;
  /** The tfjs name of the active backend (`tf.getBackend()`), to prove the switch happened. */
  active: () => string;
  /** The tfjs name `backend` registers under, when it differs (tensorflow-gpu runs as "tensorflow"). */
  tfjsName?: (backend: B) => string;
}

/**
 * A `describeEachBackend(title, suite)` that runs `suite` once per backend with that backend
 * active, as TensorFlow.js's own specs do. The backends are passed in rather than imported, so this
 * package does not depend on @revela/kernels, whose own suites use it too.
 */
export function backendSuites<B extends string>(
  options: BackendSuitesOptions<B>,
): (title: string, suite: (backend: B) => void) => void {
  const { backends, activate, active } = options;
  if (!Array.isArray(backends) || backends.length === 0)
    throw new Error("backendSuites: options.backends must be a non-empty array of backend names");
  const tfjsName = options.tfjsName ?? ((b: B) => b);
  return (title, suite) => {
    for (const backend of backends) {
      describe(`${title} [${backend}]`, () => {
        beforeAll(async () => {
          await activate(backend);
          if (active() !== tfjsName(backend))
            throw new Error(`test setup: expected backend ${backend}, tfjs runs ${active()}`);
        });
        suite(backend);
      });
    }
  };
}
