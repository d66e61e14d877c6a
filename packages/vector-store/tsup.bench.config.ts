import { defineConfig } from "tsup";

// Benchmarks are compiled next to nothing that ships: .bench/ is git-ignored.
export default defineConfig({
  entry: ["bench/vectorStore.ts"],
  outDir: ".bench",
  format: ["esm"],
  target: "node20",
  clean: true,
  splitting: false,
});
