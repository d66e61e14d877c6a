"""Golden values for @revela/language-model from an independent PyTorch implementation.

Writes, for each tiny configuration, a Hugging Face style checkpoint directory (config.json,
model.safetensors, and a PEFT LoRA adapter) plus goldens.json with inputs, logits, loss and
gradients, into packages/language-model/test/goldens/<name>/.  CI never runs this: the outputs are
committed.  Run:  apt-get install python3-torch libopenblas0-pthread;  /usr/bin/python3 tooling/goldens/generate_lm_goldens.py

The model (torch_llama.py, shared with the other generators here) is written from the published
architecture descriptions (LLaMA / Qwen2 as implemented by Hugging Face transformers: pre-norm
RMSNorm, rotate-half RoPE with optional Llama-3 frequency scaling, grouped-query attention, SwiGLU
MLP, optional q/k/v biases, optional tied embeddings, loss = mean next-token cross-entropy with
labels shifted by one and -100 ignored). It shares no code with the TypeScript implementation.
"""
import json, os, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_llama import flat, forward, loss_fn, params_for, random_lora, write_peft_adapter, write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "packages", "language-model", "test", "goldens")


def make(name, cfg, lora_targets, checkpoint_dtype="F32"):
    gen = torch.Generator().manual_seed(1234)
    p = params_for(cfg, gen)
    if checkpoint_dtype == "BF16":  # the checkpoint holds bf16: compute with exactly those values
        p = {k: v.to(torch.bfloat16).to(torch.float64) for k, v in p.items()}
    B, L = 2, 7
    ids = torch.randint(0, cfg["vocab_size"], (B, L), generator=gen)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[1, 5:] = 0
    ids[1, 5:] = 0
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    logits = forward(cfg, leaves, ids, mask)
    loss = loss_fn(logits, ids, mask)
    loss.backward()
    grad_names = ["model.norm.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight", "model.embed_tokens.weight"]
    grad_names += [k for k in p if k.endswith("k_proj.bias")][:1]

    # LoRA adapter with non-zero A and B (a trained adapter), r = 4, alpha = 8.
    r, alpha = 4, 8
    lora = random_lora(cfg, p, lora_targets, r, alpha, gen)
    lora_logits = forward(cfg, p, ids, mask, lora)
    merged = dict(p)
    for mod, (a, b) in lora["modules"].items():
        merged[mod + ".weight"] = p[mod + ".weight"] + lora["scaling"] * (b @ a)
    merged_logits = forward(cfg, merged, ids, mask)

    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), p, checkpoint_dtype, {"format": "pt"})
    write_peft_adapter(os.path.join(d, "lora"), lora, lora_targets, r, alpha, name)
    goldens = {
        "generator": "tooling/goldens/generate_lm_goldens.py (PyTorch %s, float64)" % torch.__version__,
        "input_ids": ids.tolist(), "attention_mask": mask.tolist(), "logits_shape": list(logits.shape),
        "logits": flat(logits), "loss": float(loss),
        "grads": {k: {"shape": list(leaves[k].grad.shape), "values": flat(leaves[k].grad)} for k in grad_names},
        "lora_logits": flat(lora_logits), "merged_logits": flat(merged_logits),
    }
    with open(os.path.join(d, "goldens.json"), "w") as f:
        json.dump(goldens, f)
    print(name, "loss", float(loss), "max |lora - merged|", float((lora_logits - merged_logits).abs().max()))


base = dict(vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-5, max_position_embeddings=64, hidden_act="silu",
            initializer_range=0.02, bos_token_id=1, eos_token_id=2)
make("tiny-llama", dict(base, architectures=["LlamaForCausalLM"], model_type="llama", rope_theta=500000.0,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=256),
                        tie_word_embeddings=True, attention_bias=False), ["q_proj", "v_proj", "down_proj"])
make("tiny-qwen2", dict(base, architectures=["Qwen2ForCausalLM"], model_type="qwen2", rope_theta=1000000.0,
                        rope_scaling=None, tie_word_embeddings=False, use_sliding_window=False, sliding_window=None,
                        max_window_layers=2), ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
make("tiny-llama-bf16", dict(base, architectures=["LlamaForCausalLM"], model_type="llama", rope_theta=10000.0,
                             rope_scaling=None, tie_word_embeddings=False, attention_bias=True), ["q_proj"], "BF16")
