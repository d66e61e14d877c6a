import type { ModelConfig } from "../config/modelConfig.js";
import type { ArchitectureDefinition } from "./architecture.js";
import { llama } from "./llama.js";
import { qwen2 } from "./qwen2.js";

/** Architectures by their Hugging Face `architectures` name. Contributors add theirs with `registerArchitecture`. */
const registry = new Map<string, ArchitectureDefinition>();

export function registerArchitecture(definition: ArchitectureDefinition): void {
  if (!definition || typeof definition.name !== "string" || !definition.name) {
    throw new Error("registerArchitecture: definition.name must be the Hugging Face architectures name");
  }
  if (registry.has(definition.name))
    throw new Error(`registerArchitecture: "${definition.name}" is already registered`);
  registry.set(definition.name, definition);
}

export function getArchitecture(name: string): ArchitectureDefinition {
  const found = registry.get(name);
  if (!found) {
    throw new Error(
      `unknown architecture "${name}"; registered: ${[...registry.keys()].join(", ")} (see CONTRIBUTING.md to add one)`,
    );
  }
  return found;
}

export function listArchitectures(): string[] {
  return [...registry.keys()];
}

/** Parses a config.json object with the architecture it names in `architectures[0]`. */
export function parseModelConfig(raw: unknown, source = "config.json"): ModelConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new Error(`${source}: must hold a JSON object`);
  const archs = (raw as Record<string, unknown>).architectures;
  if (!Array.isArray(archs) || typeof archs[0] !== "string") {
    throw new Error(
      `${source}: field "architectures" must be a list naming the model class, e.g. ["LlamaForCausalLM"], got ${JSON.stringify(archs)}`,
    );
  }
  if (archs.length > 1)
    throw new Error(`${source}: field "architectures" names ${archs.length} classes; exactly one is supported`);
  return getArchitecture(archs[0]).parseConfig(raw as Record<string, unknown>, source);
}

registerArchitecture(llama);
registerArchitecture(qwen2);
