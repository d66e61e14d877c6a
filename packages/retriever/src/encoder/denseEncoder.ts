import type { CausalLM } from "@revela/language-model";
import * as tf from "@tensorflow/tfjs";
import type { EmbeddingMatrix } from "../matrix/embeddingMatrix.js";
import { type EncoderOptions, resolveEncoderOptions } from "./encoderOptions.js";
import { pool, poolingPositions } from "./pooling.js";

/** What the encoder needs from a tokenizer (the Tokenizer of @revela/language-model fits). */
export interface TokenizerLike {
  eosTokenId: number | null;
  padTokenId: number | null;
  encode(text: string): number[];
}

/** Row-major [n, d] float32 embeddings (the same type as the indexes take). */
export type EncodedMatrix = EmbeddingMatrix;

export interface EncodeOptions {
  kind: "query" | "passage";
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * A dense encoder: the language-model backbone (no LM head), pooling, optional L2 normalisation,
 * and the query/passage prefixes. `embed` is differentiable (the trainer learns through it);
 * `encode` is batched inference over texts.
 */
export class DenseEncoder {
  readonly options: EncoderOptions;

  constructor(
    readonly backbone: CausalLM,
    readonly tokenizer: TokenizerLike | null,
    options: Partial<EncoderOptions> = {},
  ) {
    if (!backbone || typeof backbone.forward !== "function")
      throw new Error("DenseEncoder: backbone must be a CausalLM");
    this.options = resolveEncoderOptions(options);
  }

  /**
   * [B, L] token ids + mask → [B, d] embeddings (normalised if configured). Differentiable.
   * `training` turns LoRA dropout on (seeded), as a training step wants.
   */
  embed(
    inputIds: tf.Tensor,
    attentionMask: tf.Tensor,
    options: { training?: { dropoutSeed?: number } } = {},
  ): tf.Tensor2D {
    return tf.tidy(() => {
      const training = options.training ? { training: options.training } : {};
      const pooling = this.options.pooling;
      // eos / first read one position per sequence: the backbone's last layer runs at those rows
      // only. Inputs of the wrong kind take the full path, whose checks name what is wrong.
      const wellFormed =
        inputIds instanceof tf.Tensor &&
        attentionMask instanceof tf.Tensor &&
        inputIds.rank === 2 &&
        attentionMask.rank === 2 &&
        inputIds.shape[0] === attentionMask.shape[0] &&
        inputIds.shape[1] === attentionMask.shape[1];
      const pooled =
        pooling === "mean" || !wellFormed
          ? pool(
              this.backbone.forward(inputIds, attentionMask, { returnLogits: false, ...training }).lastHiddenState,
              attentionMask,
              pooling,
            )
          : this.backbone.finalHiddenAt(
              inputIds,
              attentionMask,
              poolingPositions(
                attentionMask.dataSync(),
                inputIds.shape[0] as number,
                inputIds.shape[1] as number,
                pooling,
              ),
              training,
            );
      if (!this.options.normalize) return pooled;
      return tf.div(pooled, tf.maximum(tf.norm(pooled, 2, 1, true), 1e-12)) as tf.Tensor2D;
    });
  }

  /**
   * Token ids of a text as the encoder sees it: prefix + text tokenized together (as
   * `tokenizer(prefix + text)` would: "query: " + "Hello" is not "query: " then "Hello"),
   * truncated so that EOS still fits, EOS appended.
   *
   * `queryView` is Revela's training query (official `collator.py`, LLMEnhancedCollator, "first
   * half"): the truncated sequence — BOS and prefix included — is cut to its first
   * ⌊queryRatio · length⌋ ids, then EOS is appended. The ratio applies to the whole sequence, not
   * to the text alone, exactly as the official collator does. `maxLength` overrides the encoder's
   * own for this call (training views are shorter than evaluation documents in the official recipe).
   */
  tokenize(
    text: string,
    kind: "query" | "passage",
    options: { queryView?: boolean; maxLength?: number } = {},
  ): number[] {
    const tok = this.requireTokenizer("tokenize");
    if (typeof text !== "string") throw new Error(`DenseEncoder.tokenize: text must be a string, got ${typeof text}`);
    if (kind !== "query" && kind !== "passage") {
      throw new Error(`DenseEncoder.tokenize: kind must be "query" or "passage", got ${JSON.stringify(kind)}`);
    }
    const eos = tok.eosTokenId;
    if (eos === null) throw new Error("DenseEncoder: the tokenizer has no EOS token, which eos pooling needs");
    const prefix = kind === "query" ? this.options.queryPrefix : this.options.passagePrefix;
    const maxLength = options.maxLength ?? this.options.maxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2)
      throw new Error(`DenseEncoder.tokenize: maxLength must be an integer ≥ 2, got ${String(options.maxLength)}`);
    let ids = tok.encode(prefix + text).slice(0, maxLength - 1);
    if (options.queryView) {
      // int() in Python truncates; ε keeps 10 × 0.3 = 3.0000000000000004 from flooring to 3 by luck only.
      // At least one id survives so that the view is never EOS alone.
      ids = ids.slice(0, Math.max(1, Math.floor(ids.length * this.options.queryRatio + 1e-9)));
    }
    ids.push(eos);
    return ids;
  }

  /** Right-padded [B, L] tensors for token id lists. */
  batchTensors(sequences: number[][]): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D } {
    const op = "DenseEncoder.batchTensors";
    const tok = this.requireTokenizer("batchTensors");
    if (!Array.isArray(sequences) || sequences.length === 0)
      throw new Error(`${op}: sequences must be a non-empty array of id lists`);
    let l = 0;
    sequences.forEach((s, i) => {
      if (!Array.isArray(s) || s.length === 0)
        throw new Error(`${op}: sequences[${i}] must be a non-empty array of token ids`);
      l = Math.max(l, s.length);
    });
    const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
    const ids = new Int32Array(sequences.length * l).fill(pad);
    const mask = new Int32Array(sequences.length * l);
    sequences.forEach((s, i) => {
      ids.set(s, i * l);
      mask.fill(1, i * l, i * l + s.length);
    });
    return {
      inputIds: tf.tensor2d(ids, [sequences.length, l], "int32"),
      attentionMask: tf.tensor2d(mask, [sequences.length, l], "int32"),
    };
  }

  /**
   * Embeds texts in batches sorted by length (less padding), returning rows in the input order.
   * The same text gives the same vector whatever else is in its batch.
   */
  async encode(texts: readonly string[], options: EncodeOptions): Promise<EncodedMatrix> {
    if (typeof options !== "object" || options === null)
      throw new Error('DenseEncoder.encode: options { kind: "query" | "passage" } are required');
    if (!Array.isArray(texts)) throw new Error("DenseEncoder.encode: texts must be an array of strings");
    texts.forEach((t, i) => {
      if (typeof t !== "string") throw new Error(`DenseEncoder.encode: texts[${i}] must be a string, got ${typeof t}`);
    });
    if (options.onProgress !== undefined && typeof options.onProgress !== "function")
      throw new Error("DenseEncoder.encode: onProgress must be a function");
    if (options.kind !== "query" && options.kind !== "passage")
      throw new Error(`DenseEncoder.encode: kind must be "query" or "passage", got ${JSON.stringify(options.kind)}`);
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`DenseEncoder.encode: batchSize must be a positive integer, got ${batchSize}`);
    const tokenized = texts.map((t) => this.tokenize(t, options.kind));
    const order = tokenized
      .map((_, i) => i)
      .sort((a, b) => (tokenized[a] as number[]).length - (tokenized[b] as number[]).length || a - b);
    const d = this.backbone.config.hiddenSize;
    const data = new Float32Array(texts.length * d);
    for (let start = 0; start < order.length; start += batchSize) {
      const idx = order.slice(start, start + batchSize);
      const { inputIds, attentionMask } = this.batchTensors(idx.map((i) => tokenized[i] as number[]));
      try {
        const emb = this.embed(inputIds, attentionMask); // [batch, d]
        const values = (await emb.data()) as Float32Array;
        emb.dispose();
        idx.forEach((row, j) => {
          data.set(values.subarray(j * d, (j + 1) * d), row * d);
        });
      } finally {
        tf.dispose([inputIds, attentionMask]);
      }
      options.onProgress?.(Math.min(start + batchSize, order.length), order.length);
      // Let the event loop breathe between batches (progress bars, signals).
      await new Promise((r) => setImmediate(r));
    }
    return { data, shape: [texts.length, d] };
  }

  private requireTokenizer(method: string): TokenizerLike {
    if (!this.tokenizer) throw new Error(`DenseEncoder.${method}: this encoder was built without a tokenizer`);
    return this.tokenizer;
  }
}
