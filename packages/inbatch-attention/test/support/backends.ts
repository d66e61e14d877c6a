import { type BackendName, initBackend } from "@revela/kernels";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe } from "vitest";

/**
 * The backends every spec runs on: cpu (the plain reference backend) and wasm as @revela/kernels
 * sets it up. The native backends are not dependencies of this package, so they are not tried.
 */
export const BACKENDS: BackendName[] = ["cpu", "wasm"];

/** Runs `suite` once per backend, with that backend active. */
export function describeEachBackend(title: string, suite: (backend: BackendName) => void): void {
  for (const backend of BACKENDS) {
    describe(`${title} [${backend}]`, () => {
      beforeAll(async () => {
        await initBackend({ backend });
        if (tf.getBackend() !== backend) {
          throw new Error(`test setup: expected backend ${backend}, tfjs runs ${tf.getBackend()}`);
        }
      });
      suite(backend);
    });
  }
}
