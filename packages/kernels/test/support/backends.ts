import { backendSuites } from "@revela/test-numerics";
import * as tf from "@tensorflow/tfjs";
import { loadNativeBackend } from "../../src/backend/nativeBackend.js";
import { type BackendName, initBackend } from "../../src/index.js";

/**
 * The backends this machine can run: cpu and wasm always, the native TensorFlow ones when their
 * packages are installed. Every spec file runs its suite once per backend, as TensorFlow.js does.
 */
export async function availableBackends(): Promise<BackendName[]> {
  const names: BackendName[] = ["cpu", "wasm"];
  // loadNativeBackend returns null when the package loads (else why it does not).
  for (const native of ["tensorflow", "tensorflow-gpu"] as const) {
    if ((await loadNativeBackend(native)) === null) names.push(native);
  }
  return names;
}

/** Runs `suite` once per available backend, with that backend active. */
export const describeEachBackend = backendSuites<BackendName>({
  backends: await availableBackends(),
  activate: async (backend) => {
    await initBackend({ backend });
  },
  active: () => tf.getBackend(),
  tfjsName: (backend) => (backend === "tensorflow-gpu" ? "tensorflow" : backend),
});
