import { defineConfig } from "tsup";

// Benchmarks are compiled next to nothing that ships: .bench/ is git-ignored.
export default defineConfig({
  entry: ["bench/vectorStore.ts", "bench/scifact.ts"],
  outDir: ".bench",
  format: ["esm"],
  target: "node20",
  clean: true,
  splitting: false,
  // Native and wasm packages load their files relative to themselves: never bundle them.
  external: [
    "usearch",
    "pg",
    "@electric-sql/pglite",
    "@electric-sql/pglite-pgvector",
    "@electric-sql/pglite-socket",
    "@revela/kernels",
    "@revela/language-model",
    "@tensorflow/tfjs",
  ],
});
