import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "./causalLM.js";

export interface GenerateOptions {
  maxNewTokens: number;
  /** Stop after emitting any of these ids. Default: the config's eos_token_id. */
  stopTokenIds?: number[];
}

/**
 * Greedy decoding: repeatedly appends the most likely next token. Each step reruns the whole
 * sequence (no key/value cache) — simple and exact, meant for small models and tests.
 */
export function greedyGenerate(model: CausalLM, promptIds: readonly number[], options: GenerateOptions): number[] {
  if (!Array.isArray(promptIds) || promptIds.length === 0 || !promptIds.every((t) => Number.isInteger(t))) {
    throw new Error("greedyGenerate: promptIds must be a non-empty array of token ids");
  }
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0) {
    throw new Error(`greedyGenerate: maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
  }
  const eos = model.config.eosTokenId;
  const stops = new Set(options.stopTokenIds ?? (eos === null ? [] : Array.isArray(eos) ? eos : [eos]));
  const ids = [...promptIds];
  for (let step = 0; step < options.maxNewTokens; step++) {
    if (ids.length >= model.config.maxPositionEmbeddings) break;
    const next = tf.tidy(() => {
      const input = tf.tensor2d([ids], [1, ids.length], "int32");
      const { logits } = model.forward(input, tf.onesLike(input));
      const last = tf.slice(logits as tf.Tensor3D, [0, ids.length - 1, 0], [1, 1, model.config.vocabSize]);
      return tf.argMax(tf.reshape(last, [-1])).dataSync()[0] as number;
    });
    ids.push(next);
    if (stops.has(next)) break;
  }
  return ids.slice(promptIds.length);
}
