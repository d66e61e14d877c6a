"""Golden values for one whole Revela step (@revela/trainer) from an independent float64 PyTorch implementation.

Writes into packages/trainer/test/goldens/revela-step/: for each architecture (tiny LLaMA with tied
embeddings and Llama-3 RoPE scaling; tiny Qwen2 with q/k/v biases; both with 4 query heads and 2
key/value heads) a retriever checkpoint and a separate LM checkpoint (config.json, model.safetensors)
with PEFT LoRA adapters on q,k,v,o,gate,up,down (non-zero A and B), the batch (ragged, right-padded
ids and masks), and one JSON file per case under cases/. CI never runs this: the outputs are
committed.  Run:  apt-get install python3-torch libopenblas0-pthread;
/usr/bin/python3 tooling/goldens/generate_revela_step_goldens.py

The step follows the math of the official Revela code (github.com/TRUMANCFY/Revela,
src/tevatron/llm_retriever/modeling/encoder.py and dense.py; the in-batch attention of the
`adapt` branch of github.com/TRUMANCFY/transformers, LlamaSdpaAttention / Qwen2SdpaAttention), written
here independently of both that code and the TypeScript implementation:
  retriever: backbone -> last real token (EOS pooling) -> L2 normalise; S = q p^T;
  W = row-softmax(S / tau) with the diagonal at -inf;
  LM pass 1: ordinary forward, keeping every layer's keys (after RoPE) and values (not detached:
  the official code lets the loss reach the LM through both passes);
  LM pass 2: every attention layer adds sum_j W_ij A_ij to its output before o_proj, where
  A_ij = P_ij V_j, P_ij = softmax(Q_i K_j^T / sqrt(d) + pad_j) over chunk j's real tokens (no causal
  mask; grouped kv heads repeated; the official code adds finfo.min at padding, -inf here: with a real
  token in every chunk both give padding exactly zero probability), and with V-normalisation A_ij is divided by P_ij ||V_j||_2 + 1e-6
  (the norm of each value vector over the head dimension, averaged with the same probabilities: one
  scalar per query position, head and pair);
  loss = mean next-token cross-entropy of pass 2 over real tokens (+ pass 1's with dual loss).
"""
import json, math, os, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_llama import decoder, flat, lm_head, loss_fn, params_for, random_lora, write_peft_adapter, write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "packages", "trainer", "test", "goldens", "revela-step")

BOS, EOS, PASSAGE_PREFIX, QUERY_PREFIX, RETRIEVER_PAD = 1, 2, 3, 4, 0
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
R, ALPHA = 4, 8
TEXT_LENGTHS = [6, 4, 5, 4, 4]  # B = 5 chunks, ragged; ≥ 4 so that every query view keeps some text
VALUE_NORM_EPSILON = 1e-6
# V-norm's epsilon is invisible next to value norms of order one; with values this small it is not.
SMALL_VALUES = 1e-5

BASE = dict(vocab_size=40, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-5, max_position_embeddings=64, hidden_act="silu",
            initializer_range=0.02, bos_token_id=BOS, eos_token_id=EOS)
ARCHS = {
    "llama": dict(BASE, architectures=["LlamaForCausalLM"], model_type="llama", rope_theta=500000.0,
                  rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                    original_max_position_embeddings=16),
                  tie_word_embeddings=True, attention_bias=False),
    "qwen2": dict(BASE, architectures=["Qwen2ForCausalLM"], model_type="qwen2", rope_theta=1000000.0,
                  rope_scaling=None, tie_word_embeddings=False, use_sliding_window=False, sliding_window=None,
                  max_window_layers=2),
}

# The first seeds from 2025 on whose goldens are well conditioned for a float32 comparison (both
# asserted below): every similarity lies >= 1e-5 from a bf16 rounding boundary, and at tau = 1e-4 each
# row's two best similarities differ by >= 20 tau, so that W is one-hot to float32 precision.
SEEDS = {"llama": 2031, "qwen2": 2027}

# name, architecture, LoRA (else every weight trains), tau, V-norm, dual loss, gradients of the parameters.
# tau = 1e-4 (the paper) checks forward values with W nearly one-hot; tau = 0.05 makes W soft, so the
# retriever's gradient through W is far from zero.
CASES = [
    ("llama-lora-tau1e-4", "llama", True, 1e-4, True, False, False),
    ("llama-lora-tau1e-4-novnorm-dual", "llama", True, 1e-4, False, True, False),
    ("llama-lora-tau0.05-dual", "llama", True, 0.05, True, True, True),
    ("llama-lora-tau0.05-novnorm", "llama", True, 0.05, False, False, True),
    ("qwen2-lora-tau1e-4", "qwen2", True, 1e-4, True, False, False),
    ("qwen2-lora-tau1e-4-novnorm-dual", "qwen2", True, 1e-4, False, True, False),
    ("qwen2-lora-tau0.05-dual", "qwen2", True, 0.05, True, True, True),
    ("qwen2-lora-tau0.05-novnorm", "qwen2", True, 0.05, False, False, True),
    ("qwen2-full-tau0.05-dual", "qwen2", False, 0.05, True, True, True),
]


def sig(values, digits=9):
    """float64 values cut to 9 significant digits: the float32 side is compared to ~1e-5, and the files stay small."""
    return [float(f"{v:.{digits}g}") for v in values]


def padded(rows, pad):
    L = max(len(r) for r in rows)
    ids = torch.full((len(rows), L), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), L, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def make_batch(vocab, gen):
    """The LM reads BOS + text (padded with EOS, as the official collator); the retriever reads the
    passage view BOS + "passage:" + text + EOS and the query view (BOS + "query:" + text) cut to its
    first int(0.5 * length) ids, + EOS. Prefixes are one made-up token each: tokenisation has its own golden."""
    texts = [torch.randint(5, vocab, (n,), generator=gen).tolist() for n in TEXT_LENGTHS]
    lm = [[BOS] + t for t in texts]
    passages = [[BOS, PASSAGE_PREFIX] + t + [EOS] for t in texts]
    queries = [([BOS, QUERY_PREFIX] + t)[: int(0.5 * (len(t) + 2))] + [EOS] for t in texts]
    return {"lm": padded(lm, EOS), "query": padded(queries, RETRIEVER_PAD), "passage": padded(passages, RETRIEVER_PAD)}


def embed(cfg, p, lora, ids, mask):
    h = decoder(cfg, p, ids, mask, lora)
    last = mask.sum(1) - 1  # right padding: the last real token (EOS)
    pooled = h[torch.arange(ids.shape[0]), last]
    return torch.nn.functional.normalize(pooled, p=2, dim=-1)


def document_weights(q, p, tau, bf16_similarity=False):
    cos = q @ p.T
    if bf16_similarity:
        # Round to nearest even bfloat16 with the gradient passed straight through in float64. (A bare
        # cos.to(bfloat16).double() would also round the gradient flowing back to bf16, 2^-9 relative.)
        cos = cos + (cos.to(torch.bfloat16).to(torch.float64) - cos).detach()
    logits = (cos / tau).masked_fill(torch.eye(q.shape[0], dtype=torch.bool), float("-inf"))
    return cos, logits.softmax(-1)


def bf16_margin(cos):
    """Smallest distance of an off-diagonal similarity to a bfloat16 rounding boundary (the midpoint of two
    neighbouring bf16 values): float32 similarities round like these float64 ones when it is far larger
    than their float32 error."""
    margin = float("inf")
    for n, v in enumerate(cos.reshape(-1).tolist()):
        if n // cos.shape[0] == n % cos.shape[0] or v == 0:
            continue
        _, e = math.frexp(abs(v))  # |v| in [2^(e-1), 2^e): bf16 (8 significant bits) steps by 2^(e-8)
        step = 2.0 ** (e - 8)
        frac = abs(v) / step
        margin = min(margin, abs(frac - math.floor(frac) - 0.5) * step)
    return margin


def bf16_similarity_golden(out, tau, with_grads):
    """W with cos rounded to bfloat16 before / tau (the official recipe runs the retriever in bf16), and
    (tau = 0.05) the gradient of sum(W * dL/dW) with respect to the embeddings, through the rounding."""
    q = out["q_emb"].detach().clone().requires_grad_(True)
    p = out["p_emb"].detach().clone().requires_grad_(True)
    # Normalised again as documentWeights does: same values, and the gradient loses its radial part.
    cos, w = document_weights(torch.nn.functional.normalize(q, dim=-1), torch.nn.functional.normalize(p, dim=-1), tau,
                              bf16_similarity=True)
    margin = bf16_margin(out["cos"].detach())
    # float32 similarities are within 1e-6 of these (measured on the cpu and wasm backends): 10x that.
    assert margin > 1e-5, f"a similarity lies {margin:.1e} from a bf16 rounding boundary: float32 may round it the other way"
    golden = {"similarities": tensor_json(cos, exact=True), "weights": tensor_json(w), "rounding_margin": margin}
    if with_grads:
        (w * out["w"].grad).sum().backward()
        golden["grad_query_embeddings"] = tensor_json(q.grad)
        golden["grad_passage_embeddings"] = tensor_json(p.grad)
    return golden


def inbatch_term(q, k, v, w, key_mask, value_norm):
    """sum_j W_ij A_ij for every chunk i: q [B, H, L, D] pass-2 queries, k/v [B, KV, L, D] pass-1 keys/values."""
    H, KV, D = q.shape[1], k.shape[1], q.shape[-1]
    k = k.repeat_interleave(H // KV, 1)
    v = v.repeat_interleave(H // KV, 1)
    s = torch.einsum("ihqd,jhkd->ijhqk", q, k) / math.sqrt(D)
    s = s.masked_fill((key_mask == 0)[None, :, None, None, :], float("-inf"))  # chunk j's padding; no causal mask
    probs = s.softmax(-1)
    a = torch.einsum("ijhqk,jhkd->ijhqd", probs, v)
    if value_norm:
        weighted_norm = torch.einsum("ijhqk,jhk->ijhq", probs, v.norm(dim=-1))
        a = a / (weighted_norm[..., None] + VALUE_NORM_EPSILON)
    return torch.einsum("ij,ijhqd->ihqd", w, a)


def revela_step(cfg, retriever, lm, batch, tau, value_norm, dual, bf16_similarity=False):
    (rp, rlora), (mp, mlora) = retriever, lm
    q_emb = embed(cfg, rp, rlora, *batch["query"])
    p_emb = embed(cfg, rp, rlora, *batch["passage"])
    cos, w = document_weights(q_emb, p_emb, tau, bf16_similarity)
    w.retain_grad()
    ids, mask = batch["lm"]
    keys, values = [], []

    def keep(layer, q, k, v):
        keys.append(k)
        values.append(v)

    loss1 = loss_fn(lm_head(cfg, mp, decoder(cfg, mp, ids, mask, mlora, keep)), ids, mask)
    queries, terms = [], []

    def cross_document(layer, q, k, v):
        t = inbatch_term(q, keys[layer], values[layer], w, mask, value_norm)
        queries.append(q)
        terms.append(t)
        return t

    loss2 = loss_fn(lm_head(cfg, mp, decoder(cfg, mp, ids, mask, mlora, cross_document)), ids, mask)
    loss = loss2 + loss1 if dual else loss2
    return dict(q_emb=q_emb, p_emb=p_emb, cos=cos, w=w, keys=keys, values=values, queries=queries, terms=terms,
                loss1=loss1, loss2=loss2, loss=loss)


def leaves(params, lora, train_lora):
    """Fresh leaf tensors; the ones that train require grad. Returns (params, lora, {golden name: leaf})."""
    p = {k: v.clone().requires_grad_(not train_lora) for k, v in params.items()}
    trained = {} if train_lora else dict(p)
    if lora is None or not train_lora:
        return p, None, trained
    mods = {}
    for m, (a, b) in lora["modules"].items():
        mods[m] = (a.clone().requires_grad_(True), b.clone().requires_grad_(True))
        trained[m + ".lora_A"], trained[m + ".lora_B"] = mods[m]
    return p, {"scaling": lora["scaling"], "modules": mods}, trained


def tensor_json(t, exact=False):
    return {"shape": list(t.shape), "values": flat(t) if exact else sig(flat(t))}


def write_model(d, cfg, p, lora, backbone_adapter):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), p, "F32", {"format": "pt"})
    write_peft_adapter(os.path.join(d, "lora"), lora, TARGETS, R, ALPHA, os.path.basename(d), dropout=0.0,
                       backbone=backbone_adapter)


def main():
    torch.set_default_dtype(torch.float64)
    models, batches = {}, {}
    for arch, cfg in ARCHS.items():
        gen = torch.Generator().manual_seed(SEEDS[arch])
        rp = params_for(cfg, gen)
        rlora = random_lora(cfg, rp, TARGETS, R, ALPHA, gen, std=0.15)
        mp = params_for(cfg, gen)
        mlora = random_lora(cfg, mp, TARGETS, R, ALPHA, gen, std=0.15)
        batch = make_batch(cfg["vocab_size"], gen)
        d = os.path.join(OUT, arch)
        # The retriever is a causal-LM checkpoint read as a backbone (as the official code wraps
        # AutoModelForCausalLM's base model); its adapter has the backbone's PEFT tensor names.
        write_model(os.path.join(d, "retriever"), cfg, rp, rlora, backbone_adapter=True)
        write_model(os.path.join(d, "lm"), cfg, mp, mlora, backbone_adapter=False)
        with open(os.path.join(d, "batch.json"), "w") as f:
            json.dump({k: {"input_ids": ids.tolist(), "attention_mask": mask.tolist()} for k, (ids, mask) in batch.items()}, f)
        models[arch], batches[arch] = ((rp, rlora), (mp, mlora)), batch

    os.makedirs(os.path.join(OUT, "cases"), exist_ok=True)
    pass1_files = {}
    for name, arch, use_lora, tau, value_norm, dual, with_grads in CASES:
        cfg = ARCHS[arch]
        (rp, rlora), (mp, mlora) = models[arch]
        rp, rlora, r_trained = leaves(rp, rlora if use_lora else None, use_lora)
        mp, mlora, m_trained = leaves(mp, mlora if use_lora else None, use_lora)
        out = revela_step(cfg, (rp, rlora), (mp, mlora), batches[arch], tau, value_norm, dual)
        out["loss"].backward()
        # Pass 1 depends only on the LM's weights and the batch: one file per LM, shared by its cases.
        pass1 = {"keys": [tensor_json(k) for k in out["keys"]], "values": [tensor_json(v) for v in out["values"]],
                 "loss": float(out["loss1"])}
        pass1_file = f"{arch}/pass1-{'lora' if use_lora else 'base'}.json"
        if pass1_file in pass1_files:
            assert pass1_files[pass1_file] == pass1, f"{name}: pass 1 differs from the other cases of {pass1_file}"
        else:
            pass1_files[pass1_file] = pass1
            with open(os.path.join(OUT, pass1_file), "w") as f:
                json.dump(pass1, f, separators=(",", ":"))
        golden = {
            "generator": "tooling/goldens/generate_revela_step_goldens.py (PyTorch %s, float64)" % torch.__version__,
            "architecture": arch, "lora": use_lora, "temperature": tau, "valueNorm": value_norm, "dualLoss": dual,
            "query_embeddings": tensor_json(out["q_emb"]), "passage_embeddings": tensor_json(out["p_emb"]),
            "similarities": tensor_json(out["cos"]), "weights": tensor_json(out["w"]),
            "pass1": pass1_file,
            "pass2_queries": [tensor_json(q) for q in out["queries"]], "inbatch_terms": [tensor_json(t) for t in out["terms"]],
            "pass1_loss": float(out["loss1"]), "pass2_loss": float(out["loss2"]), "loss": float(out["loss"]),
            "dloss_dweights": tensor_json(out["w"].grad),
        }
        if value_norm and tau == 0.05:
            golden["inbatch_terms_small_values"] = [
                tensor_json(inbatch_term(q.detach(), k.detach(), v.detach() * SMALL_VALUES, out["w"].detach(), batches[arch]["lm"][1], True))
                for q, k, v in zip(out["queries"], out["keys"], out["values"])]
            golden["small_values_scale"] = SMALL_VALUES
        if with_grads:
            # The retriever's lm_head (untied Qwen2) is not part of the backbone and gets no gradient.
            golden["grads"] = {
                "retriever": {k: tensor_json(t.grad) for k, t in r_trained.items() if t.grad is not None},
                "lm": {k: tensor_json(t.grad) for k, t in m_trained.items()},
            }
        golden["bf16_similarity"] = bf16_similarity_golden(out, tau, with_grads)
        with open(os.path.join(OUT, "cases", name + ".json"), "w") as f:
            json.dump(golden, f, separators=(",", ":"))
        w = out["w"].detach()
        off = out["cos"].detach().masked_fill(torch.eye(w.shape[0], dtype=torch.bool), float("-inf"))
        top2 = off.topk(2, 1).values
        if tau < 1e-3:
            gap = float((top2[:, 0] - top2[:, 1]).min())
            assert gap > 20 * tau, f"{name}: two similarities of a row differ by {gap:.1e}: W is not one-hot to float32 precision"
        print(f"{name}: loss {float(out['loss']):.6f} pass2 {float(out['loss2']):.6f} pass1 {float(out['loss1']):.6f} "
              f"max W {w.max(1).values.min():.4f}..{w.max(1).values.max():.4f}, "
              f"smallest gap between a row's two best similarities {float((top2[:, 0] - top2[:, 1]).min()):.2e}")


if __name__ == "__main__":
    main()
