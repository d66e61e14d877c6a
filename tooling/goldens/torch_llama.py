"""A LLaMA / Qwen2 decoder in float64 PyTorch, shared by the golden-value generators in this folder.

Written from the published architecture descriptions (LLaMA / Qwen2 as implemented by Hugging Face
transformers: pre-norm RMSNorm, rotate-half RoPE with optional Llama-3 frequency scaling,
grouped-query attention, SwiGLU MLP, optional q/k/v biases, optional tied embeddings, loss = mean
next-token cross-entropy with labels shifted by one and -100 ignored). It shares no code with the
TypeScript implementation. Also: a minimal safetensors writer and PEFT LoRA adapter files.
"""
import json, math, os, struct
import torch

torch.set_default_dtype(torch.float64)  # goldens in float64; the TS side runs float32


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Minimal safetensors writer: 8-byte LE header length, JSON header, raw little-endian data."""
    names = sorted(tensors)
    header, blobs, offset = {}, [], 0
    for n in names:
        t = tensors[n].detach().to(torch.float32).contiguous()
        if dtype == "F32":
            raw = t.numpy().astype("<f4").tobytes()
        elif dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        elif dtype == "F16":
            raw = t.to(torch.float16).numpy().astype("<f2").tobytes()
        header[n] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def inv_freq(cfg):
    d = cfg["head_dim"]
    f = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    rs = cfg.get("rope_scaling")
    if rs:
        factor, lo, hi, orig = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        out = []
        for v in f.tolist():
            wl = 2 * math.pi / v
            if wl < orig / hi:
                out.append(v)
            elif wl > orig / lo:
                out.append(v / factor)
            else:
                s = (orig / wl - lo) / (hi - lo)
                out.append((1 - s) * v / factor + s * v)
        f = torch.tensor(out)
    return f


def rope(x, cfg):  # x: B H L D
    L = x.shape[2]
    ang = torch.arange(L, dtype=torch.float64)[:, None] * inv_freq(cfg)[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1)
    sin = torch.cat([ang.sin(), ang.sin()], -1)
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], -1)
    return x * cos + rot * sin


def linear(x, p, name, lora=None):
    y = x @ p[name + ".weight"].T
    if name + ".bias" in p:
        y = y + p[name + ".bias"]
    if lora is not None and name in lora["modules"]:
        a, b = lora["modules"][name]
        y = y + (x @ a.T @ b.T) * lora["scaling"]
    return y


def decoder(cfg, p, ids, mask, lora=None, attention_hook=None):
    """The decoder stack up to and including the final norm: [B, L, d].

    attention_hook(layer, q, k, v), if given, sees every layer's queries and keys after RoPE and its
    values ([B, H, L, D] and [B, KV, L, D], before the grouped heads are repeated); what it returns
    (None or [B, H, L, D]) is added to the attention output before the output projection.
    """
    B, L = ids.shape
    H, KV, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    x = p["model.embed_tokens.weight"][ids]
    causal = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)
    keymask = mask == 0
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}"
        h = rms_norm(x, p[pre + ".input_layernorm.weight"], eps)
        q = linear(h, p, pre + ".self_attn.q_proj", lora).view(B, L, H, D).transpose(1, 2)
        k = linear(h, p, pre + ".self_attn.k_proj", lora).view(B, L, KV, D).transpose(1, 2)
        v = linear(h, p, pre + ".self_attn.v_proj", lora).view(B, L, KV, D).transpose(1, 2)
        q, k = rope(q, cfg), rope(k, cfg)
        extra = attention_hook(i, q, k, v) if attention_hook is not None else None
        k = k.repeat_interleave(H // KV, 1)
        v = v.repeat_interleave(H // KV, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(causal[None, None], float("-inf")).masked_fill(keymask[:, None, None, :], float("-inf"))
        # Rows with no visible key (padding at the start) would be NaN; they are padding and ignored by the loss.
        s = torch.where(torch.isinf(s).all(-1, keepdim=True), torch.zeros_like(s), s)
        a = s.softmax(-1) @ v
        if extra is not None:
            a = a + extra
        x = x + linear(a.transpose(1, 2).reshape(B, L, H * D), p, pre + ".self_attn.o_proj", lora)
        h2 = rms_norm(x, p[pre + ".post_attention_layernorm.weight"], eps)
        g = linear(h2, p, pre + ".mlp.gate_proj", lora)
        u = linear(h2, p, pre + ".mlp.up_proj", lora)
        x = x + linear(torch.nn.functional.silu(g) * u, p, pre + ".mlp.down_proj", lora)
    return rms_norm(x, p["model.norm.weight"], eps)


def lm_head(cfg, p, x):
    head = p["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else p["lm_head.weight"]
    return x @ head.T


def forward(cfg, p, ids, mask, lora=None, attention_hook=None):
    return lm_head(cfg, p, decoder(cfg, p, ids, mask, lora, attention_hook))


def loss_fn(logits, ids, mask):
    labels = ids.masked_fill(mask == 0, -100)
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)


def params_for(cfg, gen):
    d, f, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    q, kv = cfg["num_attention_heads"] * cfg["head_dim"], cfg["num_key_value_heads"] * cfg["head_dim"]
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    n = lambda *s: torch.randn(*s, generator=gen) * 0.2
    p = {"model.embed_tokens.weight": n(V, d), "model.norm.weight": 1 + n(d) * 0.5}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}"
        p[pre + ".input_layernorm.weight"] = 1 + n(d) * 0.5
        p[pre + ".post_attention_layernorm.weight"] = 1 + n(d) * 0.5
        for name, o, inp in (("q_proj", q, d), ("k_proj", kv, d), ("v_proj", kv, d), ("o_proj", d, q)):
            p[f"{pre}.self_attn.{name}.weight"] = n(o, inp)
            if (name != "o_proj" and qkv_bias) or (name == "o_proj" and o_bias):
                p[f"{pre}.self_attn.{name}.bias"] = n(o)
        p[pre + ".mlp.gate_proj.weight"] = n(f, d)
        p[pre + ".mlp.up_proj.weight"] = n(f, d)
        p[pre + ".mlp.down_proj.weight"] = n(d, f)
    if not cfg.get("tie_word_embeddings"):
        p["lm_head.weight"] = n(V, d)
    # Round through float32 so the float32 checkpoint holds exactly these values.
    return {k: v.to(torch.float32).to(torch.float64) for k, v in p.items()}


def random_lora(cfg, p, targets, r, alpha, gen, std=0.3):
    """A LoRA adapter with non-zero A and B (a trained adapter): {"scaling", "modules": {module: (A, B)}}."""
    lora = {"scaling": alpha / r, "modules": {}}
    for i in range(cfg["num_hidden_layers"]):
        for t in targets:
            mod = f"model.layers.{i}.self_attn.{t}" if t.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else f"model.layers.{i}.mlp.{t}"
            w = p[mod + ".weight"]
            lora["modules"][mod] = ((torch.randn(r, w.shape[1], generator=gen) * std).to(torch.float32).to(torch.float64),
                                    (torch.randn(w.shape[0], r, generator=gen) * std).to(torch.float32).to(torch.float64))
    return lora


def write_peft_adapter(d, lora, targets, r, alpha, base_name, dropout=0.1, backbone=False):
    """A PEFT adapter directory. A backbone (LlamaModel wrapped by PEFT) has no "model." level in its tensor names."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "FEATURE_EXTRACTION" if backbone else "CAUSAL_LM", "r": r,
                   "lora_alpha": alpha, "lora_dropout": dropout, "target_modules": targets, "bias": "none",
                   "fan_in_fan_out": False, "modules_to_save": None, "base_model_name_or_path": base_name}, f, indent=2)
    inner = (lambda m: m[len("model."):]) if backbone else (lambda m: m)
    write_safetensors(os.path.join(d, "adapter_model.safetensors"),
                      {f"base_model.model.{inner(m)}.lora_{w}.weight": t for m, (a, b) in lora["modules"].items() for w, t in (("A", a), ("B", b))},
                      "F32", {"format": "pt"})


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]
