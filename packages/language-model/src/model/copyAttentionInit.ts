import * as tf from "@tensorflow/tfjs";
import type { CausalLM } from "./causalLM.js";

/**
 * Initialises every attention layer of a from-scratch model to copy what it reads: v_proj passes the
 * first numKeyValueHeads·headDim dimensions of the (normed) hidden state through unchanged and o_proj
 * writes each head's output back onto the dimensions its key-value group read, times `scale` (the
 * heads of one group share it). Queries and keys keep their random init, so each head starts by
 * averaging the tokens it attends to: a bag-of-words "cache" of the chunk's own prefix and — in
 * Revela's pass 2 — of the chunks W points at.
 *
 * Why: the retriever learns only from how much the LM's loss depends on which chunks it reads. A
 * pretrained LM (the paper's) reads from the start; a small LM trained from scratch for minutes on a
 * CPU does not, and Revela's gradient through W is then noise. With this init, reading a chunk that
 * shares tokens with the predicted one lowers the loss from step 0. It is a from-scratch stand-in for
 * pretraining, not part of the paper's method.
 */
export function initCopyAttention(model: CausalLM, scale: number): void {
  if (!Number.isFinite(scale) || scale <= 0)
    throw new Error(`initCopyAttention: scale must be a finite number > 0, got ${scale}`);
  if (model.lora.size)
    throw new Error("initCopyAttention: the model has LoRA adapters; copy init is for from-scratch weights only");
  const c = model.config;
  const hd = c.headDim;
  const groups = c.numKeyValueHeads;
  const perGroup = c.numAttentionHeads / groups;
  if (groups * hd > c.hiddenSize)
    throw new Error(
      `initCopyAttention: numKeyValueHeads·headDim (${groups}·${hd}) exceeds hiddenSize (${c.hiddenSize}); v_proj cannot pass dimensions through`,
    );
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const prefix = `model.layers.${l}.self_attn`;
    const vName = `${prefix}.v_proj.weight`;
    const oName = `${prefix}.o_proj.weight`;
    const v = model.params.get(vName);
    const o = model.params.get(oName);
    if (!v || !o) throw new Error(`initCopyAttention: the model has no "${v ? oName : vName}"`);
    // v_proj [G·hd, d]: row k reads input dimension k.
    const vData = new Float32Array(groups * hd * c.hiddenSize);
    for (let k = 0; k < groups * hd; k++) vData[k * c.hiddenSize + k] = 1;
    // o_proj [d, H·hd]: head h (group g = ⌊h / perGroup⌋) writes its dimension e back to g·hd + e.
    const oData = new Float32Array(c.hiddenSize * c.numAttentionHeads * hd);
    for (let h = 0; h < c.numAttentionHeads; h++) {
      const g = Math.floor(h / perGroup);
      for (let e = 0; e < hd; e++) oData[(g * hd + e) * c.numAttentionHeads * hd + h * hd + e] = scale / perGroup;
    }
    for (const [variable, data] of [
      [v, vData],
      [o, oData],
    ] as const) {
      const init = tf.tensor(data, variable.shape);
      variable.assign(init);
      init.dispose();
    }
  }
}
