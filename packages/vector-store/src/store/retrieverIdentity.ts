import { createHash } from "node:crypto";
import { Retriever } from "@revela/retriever";

/**
 * What a collection remembers of the retriever that encoded it. `hash` decides: vectors from a
 * retriever with another hash are refused, because they live in another space even when the
 * dimension matches. `id` is a label for messages (a directory name, a model name).
 */
export interface RetrieverIdentity {
  id: string;
  /** sha256 (hex) of everything that decides the vectors; see retrieverIdentity. */
  hash: string;
  dimensions: number;
}

/**
 * Texts the tokenizer's ids are hashed on: two tokenizers that split these the same way (words,
 * digits, accents, punctuation, the prefixes) give the same ids for the prefixes the encoder adds.
 */
const PROBE_TEXTS = [
  "query: passage: The quick brown fox jumps over the lazy dog.",
  "Photosynthesis converts 6 CO2 + 6 H2O → C6H12O6; naïve café déjà-vu, 1234567890!?",
  "  leading spaces, UPPER case, snake_case, camelCase and URLs like https://example.org/a?b=c ",
];

/**
 * The identity of a retriever: sha256 over its encoder options, backbone config, every weight
 * (names, shapes and float32 bytes, LoRA adapters included) and the ids its tokenizer gives a few
 * probe texts. Two retrievers with the same hash embed every text to the same vector. `id` defaults
 * to the hash's first 12 hex digits.
 */
export function retrieverIdentity(retriever: Retriever, id?: string): RetrieverIdentity {
  const op = "retrieverIdentity";
  if (!(retriever instanceof Retriever)) throw new Error(`${op}: retriever must be a Retriever from @revela/retriever`);
  if (id !== undefined && (typeof id !== "string" || id.trim() === "")) {
    throw new Error(`${op}: id must be a non-empty string, got ${JSON.stringify(id)}`);
  }
  const hash = createHash("sha256");
  const text = (s: string) => hash.update(`${s}\n`);
  text(`dimensions ${retriever.dimensions}`);
  text(`encoder ${stableJson(retriever.options)}`);
  text(`config ${stableJson(retriever.backbone.config)}`);
  const tensors: [string, { shape: number[]; dataSync(): ArrayLike<number> }][] = [
    ...retriever.backbone.params.entries(),
  ];
  // Decoder layers kept in JavaScript memory (offloadLayers) hash as the float32 values they compute
  // with, so a retriever loaded with or without offloading has one identity.
  const backbone = retriever.backbone;
  for (const [name, weight] of backbone.offloaded) {
    tensors.push([name, { shape: [...weight.shape], dataSync: () => backbone.offloadedValues(name) }]);
  }
  for (const [name, adapter] of retriever.backbone.lora) {
    tensors.push([`${name}.lora_A`, adapter.a], [`${name}.lora_B`, adapter.b]);
    text(`lora ${name} scaling ${adapter.scaling}`);
  }
  tensors.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, tensor] of tensors) {
    text(`tensor ${name} [${tensor.shape.join(",")}]`);
    const values = Float32Array.from(tensor.dataSync());
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  const tokenizer = retriever.tokenizer;
  text(`tokenizer vocab ${tokenizer.vocabSize} eos ${tokenizer.eosTokenId} bos ${tokenizer.bosTokenId}`);
  for (const probe of PROBE_TEXTS) text(`ids ${Array.from(tokenizer.encode(probe)).join(",")}`);
  const digest = hash.digest("hex");
  return { id: id ?? digest.slice(0, 12), hash: digest, dimensions: retriever.dimensions };
}

/** JSON with object keys sorted, so that key order never changes the hash. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
