import type { CrossAttentionImplementation, SimilarityPrecision } from "@revela/inbatch-attention";
import type { WarmupShape } from "../optim/lrSchedule.js";

/**
 * The official Revela training recipe, every setting in one object. Sources are files of the
 * official code (repository TRUMANCFY/Revela at d32cc7e; `train.sh`, `deepspeed/ds_zero3_config.json`,
 * `src/tevatron/llm_retriever/{arguments,collator,dataset}.py`, `modeling/{encoder,dense}.py`) and,
 * where those say "auto" or nothing, the Hugging Face TrainingArguments default they fall back to.
 */
export interface RevelaRecipe {
  /** Chunks per in-batch attention group, B. */
  batchSize: number;
  /** How groups are formed. `bm25`: a chunk and its BM25 neighbours from other documents. */
  batching: "bm25" | "consecutive";
  /** Retriever views: tokens including BOS, prefix and the appended EOS. */
  maxRetrieverTokens: number;
  /** LM input: BOS + text, cut to this many tokens, no EOS. */
  maxLmTokens: number;
  /** Query view = first ⌊ratio · length⌋ ids of BOS + query prefix + text, then EOS. */
  queryRatio: number;
  queryPrefix: string;
  passagePrefix: string;
  pooling: "eos";
  normalize: boolean;
  /** τ of W = softmax(cos / τ). */
  temperature: number;
  similarityPrecision: SimilarityPrecision;
  /** The official in-batch term attends to every other chunk of the group: our `dense` math (streaming is the same sum). */
  implementation: CrossAttentionImplementation;
  valueNorm: boolean;
  dualLoss: boolean;
  lora: { r: number; alpha: number; dropout: number; targets: string[] };
  retrieverLr: number;
  lmLr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
  warmup: WarmupShape;
  warmupSteps: number;
  /** Learning-rate decay after warm-up: linear to 0 at the last update. */
  decay: "linear";
  /** Batches per optimizer update (each its own group). */
  accumulationSteps: number;
  /** Both models start from the same pretrained checkpoint, each with its own LoRA adapter. */
  sharedInit: boolean;
}

export const PAPER_RECIPE: Readonly<RevelaRecipe> = Object.freeze<RevelaRecipe>({
  batchSize: 16, // train.sh: --per_device_train_batch_size 1 --train_group_size 16 (dataset.py: 16 texts a group)
  batching: "bm25", // train.sh: --bm25_retrieval_file; dataset.py shuffles inside each group
  maxRetrieverTokens: 157, // train.sh: --passage_max_len 157; collator.py: 156 + EOS (padded to 160)
  maxLmTokens: 156, // collator.py: the LM is tokenised with the same max_length (157 − 1), no EOS appended
  queryRatio: 0.5, // train.sh: --first_half True; arguments.py: first_half_ratio 0.5; collator.py: int(0.5·len)
  queryPrefix: "query: ", // train.sh: --add_query_prefix True; arguments.py: query_prefix "query: "
  passagePrefix: "passage: ", // train.sh: --add_passage_prefix True; arguments.py: passage_prefix "passage: "
  pooling: "eos", // train.sh: --pooling eos --append_eos_token; dense.py: last real token
  normalize: true, // train.sh: --normalize
  temperature: 1e-4, // train.sh: --attn_temperature 0.0001 (--temperature 0.01 is not used by W)
  similarityPrecision: "bf16", // train.sh: --bf16 (cos is a bf16 tensor)
  implementation: "dense", // modeling_llama.py (TRUMANCFY/transformers, adapt): all B − 1 other chunks (top_k 16 ≥ B − 1)
  valueNorm: true, // arguments.py: disable_v_norm False
  dualLoss: false, // arguments.py: dual_loss False
  lora: {
    r: 256, // train.sh: --lora_r 256
    alpha: 64, // arguments.py: lora_alpha 64
    dropout: 0.1, // arguments.py: lora_dropout 0.1 (active: the model is in training mode)
    targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], // train.sh: --lora_target_modules
  },
  retrieverLr: 1e-4, // train.sh: --learning_rate 1e-4, one optimizer over both models
  lmLr: 1e-4, // the same
  betas: [0.9, 0.999], // ds_zero3_config.json: "auto" → TrainingArguments adam_beta1/2 defaults
  eps: 1e-8, // "auto" → TrainingArguments adam_epsilon default
  weightDecay: 0, // "auto" → TrainingArguments weight_decay default
  maxGradNorm: 1, // gradient_clipping "auto" → TrainingArguments max_grad_norm default
  warmup: "log", // ds_zero3_config.json: WarmupDecayLR, whose warmup_type defaults to "log"
  warmupSteps: 100, // train.sh: --warmup_steps 100 (optimizer updates)
  decay: "linear", // WarmupDecayLR: linear to 0 at total_num_steps
  accumulationSteps: 32, // train.sh: --gradient_accumulation_steps 8 × 4 GPUs (--include localhost:0,1,2,3)
  sharedInit: true, // encoder.py: retriever and reference both from_pretrained(model_name_or_path)
});
