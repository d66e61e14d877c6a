import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { type BatchOptions, batchTokenIds, type EncodedBatch, resolveBatchOptions } from "./batchTokenIds.js";
import { CompactTokenizer } from "./compactTokenizer.js";
import type { DecodeOptions, EncodeBatchOptions, FileTokenizer } from "./textTokenizer.js";
import { readJsonObject, specialTokenText, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from "./tokenizerFiles.js";
import type { VocabularyCompaction } from "./vocabularyCompaction.js";

/**
 * A Hugging Face tokenizer (`tokenizer.json`, run by the pure-JS @huggingface/tokenizers) with the
 * policy this project needs made explicit rather than left to each model's post-processor:
 *
 * - `encode` gives the text's ids, preceded by BOS when the tokenizer adds one (`add_bos_token`), and
 *   never followed by EOS; batch encoding appends EOS itself, because the retriever pools on it.
 * - Whether BOS is added: the `addBosToken` option, else `add_bos_token` from tokenizer_config.json,
 *   else whether tokenizer.json's post-processor puts BOS first (Llama-3.2's does; the original
 *   Llama-3 file and Qwen's do not).
 * - The pad id: `pad_token` from the config, else EOS (Llama has no pad token; padding is masked out,
 *   so which id fills it does not matter as long as it is a real one).
 * - Special-token text inside input (e.g. "<|end_of_text|>") becomes that special token, as in
 *   transformers' default (`split_special_tokens=False`).
 */

export interface TokenizerOptions {
  /** Override tokenizer_config.json's eos_token (token text). Required when there is no config. */
  eosToken?: string;
  /** Override pad_token (token text). Default: the config's, else EOS. */
  padToken?: string;
  /** Override bos_token (token text). */
  bosToken?: string;
  /** Override whether encode puts BOS first. */
  addBosToken?: boolean;
}

export class Tokenizer implements FileTokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  /** Whether encode puts BOS first. */
  readonly addBosToken: boolean;
  /** Ids of the tokens tokenizer.json marks special (BOS, EOS, chat markers, reserved tokens). */
  readonly specialTokenIds: ReadonlySet<number>;
  /** Where the tokenizer came from, for messages. */
  readonly source: string;
  private readonly hf: HfTokenizer;

  private constructor(
    hf: HfTokenizer,
    tokenizerJson: Record<string, unknown>,
    config: Record<string, unknown>,
    options: TokenizerOptions,
    source: string,
    configSource: string,
  ) {
    this.hf = hf;
    this.source = source;
    let maxId = -1;
    for (const id of hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.specialTokenIds = new Set(
      (Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : [])
        .filter((t: { special?: unknown; id?: unknown }) => t?.special === true && Number.isInteger(t.id))
        .map((t: { id: number }) => t.id),
    );

    const resolve = (field: string, override: string | undefined): number | null => {
      if (override !== undefined && typeof override !== "string") {
        throw new Error(`tokenizer: options for ${field} must be a token string, got ${JSON.stringify(override)}`);
      }
      const text = override ?? specialTokenText(config, field, configSource);
      if (text === null) return null;
      const id = hf.token_to_id(text);
      if (id === undefined) {
        const from = override !== undefined ? "the options" : `${configSource} field "${field}"`;
        throw new Error(
          `tokenizer: ${from} names ${JSON.stringify(text)}, which is not in the vocabulary of ${source}`,
        );
      }
      return id;
    };
    const eos = resolve("eos_token", options.eosToken);
    if (eos === null) {
      throw new Error(
        `tokenizer: no EOS token for ${source}: ${configSource} has no "eos_token"; pass tokenizer_config.json or options.eosToken`,
      );
    }
    this.eosTokenId = eos;
    this.padTokenId = resolve("pad_token", options.padToken) ?? eos;
    this.bosTokenId = resolve("bos_token", options.bosToken);

    let addBos: boolean;
    if (options.addBosToken !== undefined) {
      if (typeof options.addBosToken !== "boolean") throw new Error("tokenizer: options.addBosToken must be a boolean");
      addBos = options.addBosToken;
    } else if (typeof config.add_bos_token === "boolean") {
      addBos = config.add_bos_token;
    } else {
      addBos = this.bosTokenId !== null && this.postProcessorAddsBos(this.bosTokenId);
    }
    if (addBos && this.bosTokenId === null) {
      throw new Error(`tokenizer: BOS is to be added but ${configSource} names no "bos_token" (pass options.bosToken)`);
    }
    this.addBosToken = addBos;
  }

  private postProcessorAddsBos(bos: number): boolean {
    const withSpecial = this.hf.encode("a", { add_special_tokens: true }).ids;
    const without = this.hf.encode("a", { add_special_tokens: false }).ids;
    return withSpecial[0] === bos && without[0] !== bos;
  }

  /** From parsed tokenizer.json and (optional) tokenizer_config.json objects. */
  static fromJSON(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown> | null = null,
    options: TokenizerOptions = {},
    source = "tokenizer.json",
    configSource = tokenizerConfig === null ? "(no tokenizer_config.json)" : "tokenizer_config.json",
  ): Tokenizer {
    if (typeof tokenizerJson !== "object" || tokenizerJson === null || Array.isArray(tokenizerJson)) {
      throw new Error(`tokenizer: ${source} must be a JSON object`);
    }
    if (typeof tokenizerJson.model !== "object" || tokenizerJson.model === null) {
      throw new Error(`tokenizer: ${source} has no "model" object; is it a Hugging Face tokenizer.json?`);
    }
    const config = tokenizerConfig ?? {};
    let hf: HfTokenizer;
    try {
      hf = new HfTokenizer(tokenizerJson, config);
    } catch (e) {
      throw new Error(`tokenizer: cannot build a tokenizer from ${source}: ${(e as Error).message}`);
    }
    return new Tokenizer(hf, tokenizerJson, config, options, source, configSource);
  }

  /** From a tokenizer.json path and an optional tokenizer_config.json path. */
  static async fromFiles(
    tokenizerJsonPath: string,
    tokenizerConfigPath?: string,
    options: TokenizerOptions = {},
  ): Promise<Tokenizer> {
    const json = await readJsonObject(tokenizerJsonPath, TOKENIZER_FILE);
    const config =
      tokenizerConfigPath === undefined ? null : await readJsonObject(tokenizerConfigPath, TOKENIZER_CONFIG_FILE);
    return Tokenizer.fromJSON(
      json,
      config,
      options,
      tokenizerJsonPath,
      tokenizerConfigPath ?? "(no tokenizer_config.json)",
    );
  }

  /** From a directory holding tokenizer.json and, if present, tokenizer_config.json. */
  static async fromDir(dir: string, options: TokenizerOptions = {}): Promise<Tokenizer> {
    if (typeof dir !== "string" || dir.length === 0) {
      throw new Error(`tokenizer: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
    }
    const configPath = join(dir, TOKENIZER_CONFIG_FILE);
    const hasConfig = await stat(configPath).then(
      (s) => s.isFile(),
      () => false,
    );
    return Tokenizer.fromFiles(join(dir, TOKENIZER_FILE), hasConfig ? configPath : undefined, options);
  }

  encode(text: string): number[] {
    if (typeof text !== "string") throw new Error(`Tokenizer.encode: text must be a string, got ${typeof text}`);
    const ids = this.hf.encode(text, { add_special_tokens: false }).ids;
    return this.addBosToken ? [this.bosTokenId!, ...ids] : ids;
  }

  encodeBatch(texts: readonly string[], options: EncodeBatchOptions): EncodedBatch {
    const op = "Tokenizer.encodeBatch";
    if (!Array.isArray(texts)) throw new Error(`${op}: texts must be an array of strings`);
    resolveBatchOptions(op, options); // fail on bad options before tokenizing anything
    const prefix = options.prefix ?? "";
    if (typeof prefix !== "string") throw new Error(`${op}: options.prefix must be a string, got ${typeof prefix}`);
    const sequences = texts.map((text, i) => {
      if (typeof text !== "string")
        throw new Error(`${op}: texts[${i}] must be a string, got ${text === null ? "null" : typeof text}`);
      return this.encode(prefix + text);
    });
    return batchTokenIds(sequences, options, this, op);
  }

  batchIds(sequences: readonly ArrayLike<number>[], options: BatchOptions): EncodedBatch {
    const op = "Tokenizer.batchIds";
    if (Array.isArray(sequences)) {
      sequences.forEach((s, i) => {
        this.checkIds(op, s, `sequences[${i}]`);
      });
    }
    return batchTokenIds(sequences, options, this, op);
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    this.checkIds("Tokenizer.decode", ids, "ids");
    if (ids.length === 0) return "";
    return this.hf.decode(Array.from(ids), { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The id of a token's text, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** The text of a token id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** A tokenizer that speaks the compaction's compact ids (see {@link VocabularyCompaction}). */
  withCompaction(compaction: VocabularyCompaction): CompactTokenizer {
    return new CompactTokenizer(this, compaction);
  }

  private checkIds(op: string, ids: ArrayLike<number>, what: string): void {
    if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
      throw new Error(`${op}: ${what} must be an array of token ids`);
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`${op}: ${what}[${i}] = ${id} is not a token id (0 .. ${this.vocabSize - 1})`);
      }
    }
  }
}
