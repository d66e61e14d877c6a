import * as tf from "@tensorflow/tfjs";
import { describe } from "vitest";
import { loadNativeBackend } from "../../src/backend/nativeBackend.js";
import { type BackendName, initBackend } from "../../src/index.js";

/**
 * The backends this machine can run: cpu and wasm always, the native TensorFlow ones when their
 * packages are installed. Every spec file runs its suite once per backend, as TensorFlow.js does.
 */
export async function availableBackends(): Promise<BackendName[]> {
  const names: BackendName[] = ["cpu", "wasm"];
  for (const native of ["tensorflow", "tensorflow-gpu"] as const) {
    if ((await loadNativeBackend(native)) === null) names.push(native);
  }
  return names;
}

const backends = await availableBackends();

/** Runs `suite` once per available backend, with that backend active. */
export function describeEachBackend(title: string, suite: (backend: BackendName) => void): void {
  for (const backend of backends) {
    describe(`${title} [${backend}]`, () => {
      beforeAllBackend(backend);
      suite(backend);
    });
  }
}

import { beforeAll } from "vitest";

function beforeAllBackend(backend: BackendName): void {
  beforeAll(async () => {
    await initBackend({ backend });
    if (tf.getBackend() !== (backend === "tensorflow-gpu" ? "tensorflow" : backend)) {
      throw new Error(`test setup: expected backend ${backend}, tfjs runs ${tf.getBackend()}`);
    }
  });
}
