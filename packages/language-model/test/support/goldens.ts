import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Golden checkpoints and values written by tooling/goldens/generate_lm_goldens.py (PyTorch). */
export const GOLDENS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "goldens");

export interface Goldens {
  generator: string;
  input_ids: number[][];
  attention_mask: number[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  grads: Record<string, { shape: number[]; values: number[] }>;
  lora_logits: number[];
  merged_logits: number[];
}

export function readGoldens(name: string): { dir: string; goldens: Goldens } {
  const dir = path.join(GOLDENS_DIR, name);
  const file = path.join(dir, "goldens.json");
  if (!fs.existsSync(file))
    throw new Error(`golden values ${file} are missing: run tooling/goldens/generate_lm_goldens.py`);
  return { dir, goldens: JSON.parse(fs.readFileSync(file, "utf8")) as Goldens };
}

/** Which golden directories exercise each registered architecture (the conformance suite requires one). */
export const GOLDENS_BY_ARCHITECTURE: Record<string, string[]> = {
  LlamaForCausalLM: ["tiny-llama", "tiny-llama-bf16"],
  Qwen2ForCausalLM: ["tiny-qwen2"],
};

export { maxAbsDiff } from "@revela/test-numerics";
