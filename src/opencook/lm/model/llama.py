"""LLaMA-style decoder: RMSNorm, SwiGLU, RoPE (Hugging Face's rotate_half), GQA, no biases.

Parameter names mirror ``transformers.LlamaForCausalLM`` so a checkpoint converts with a prefix rule
(``model.`` on everything except ``lm_head``). RoPE tables are computed in each forward rather than
kept as buffers, so a model built on the ``meta`` device needs nothing but ``to_empty`` +
``reset_parameters`` to materialise.

Generation passes a ``KVCache`` (and, for left-padded batches, ``positions`` and ``key_mask``) to the
same ``forward``; without them ``forward`` runs the training path unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from opencook.lm.model.config import ModelConfig


class RMSNorm(nn.Module):
    """RMSNorm computed in float32, cast back before the weight (as HF does), so bf16 matches HF."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(dtype)

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)


def rope_cos_sin(
    head_dim: int, theta: float, positions: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables [T, head_dim] in HF's layout: frequencies repeated as two halves."""
    exponent = torch.arange(0, head_dim, 2, dtype=torch.int64, device=positions.device).float() / head_dim
    inv_freq = 1.0 / (theta**exponent)
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` [B, H, T, D] by position (rotate_half convention, not interleaved pairs)."""
    return x * cos + _rotate_half(x) * sin


class KVCache:
    """Preallocated keys/values for incremental decoding, per layer ``[B, kv_heads, max_len, head_dim]``.

    Writing each step into a fixed buffer copies only the new token, where ``torch.cat`` would copy the
    whole past. ``length`` positions are filled, the same number in every row (batches are left-padded,
    with ``key_mask`` marking the padding). The RoPE tables for every position it can hold are computed once.
    """

    def __init__(self, cfg: ModelConfig, batch: int, max_len: int, *, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = "cpu") -> None:
        if max_len > cfg.max_seq_len:
            raise ValueError(f"KV cache of {max_len} positions exceeds max_seq_len {cfg.max_seq_len}")
        shape = (batch, cfg.n_kv_heads, max_len, cfg.head_size)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]
        self.max_len = max_len
        self.length = 0
        # Optional [dim, vocab] contiguous copy of the output head, for steps of one or two rows: on CPU
        # that product runs ~3x faster than F.linear over the [vocab, dim] weight (a long, thin GEMV that
        # dominates a small model's decode step), at the price of one more copy of the head while it lives.
        self.head_t: torch.Tensor | None = None
        self.cos, self.sin = rope_cos_sin(cfg.head_size, cfg.rope_theta,
                                          torch.arange(max_len, device=device), dtype)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new keys/values at ``length`` and return views of everything filled so far."""
        end = self.length + k.shape[2]
        self.k[layer][:, :, self.length:end] = k
        self.v[layer][:, :, self.length:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only batch rows ``rows`` (finished sequences stop costing compute)."""
        self.k = [k.index_select(0, rows) for k in self.k]
        self.v = [v.index_select(0, rows) for v in self.v]


def attention_mask(key_mask: torch.Tensor | None, past: int, t: int) -> torch.Tensor | None:
    """Boolean ``[B|1, 1, t, past + t]`` mask (True = attend), or None when plain causal SDPA is exact.

    A query sees earlier real keys and always itself, so a padding query never has an all-masked row
    (which gives NaN in SDPA and would leak into real rows through the cache)."""
    if key_mask is None and (past == 0 or t == 1):
        return None
    device = key_mask.device if key_mask is not None else None
    q_pos = torch.arange(past, past + t, device=device)[:, None]
    k_pos = torch.arange(past + t, device=device)[None, :]
    mask = (k_pos <= q_pos)[None, None]
    if key_mask is not None:
        mask = mask & (key_mask[:, None, None, : past + t] | (k_pos == q_pos))
    return mask


def document_ids(tokens: torch.Tensor, eos_id: int) -> torch.Tensor:
    """[B, T] document number of every token of packed rows: a document ends with (and includes) ``eos_id``."""
    after_eos = torch.zeros_like(tokens, dtype=torch.int64)
    after_eos[:, 1:] = (tokens[:, :-1] == eos_id).to(torch.int64)
    return after_eos.cumsum(1)


def document_layout(doc_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE positions counted from each document's start, and the block-diagonal causal mask
    ``[B, 1, T, T]`` (True = attend) that keeps every query inside its own document."""
    b, t = doc_ids.shape
    index = torch.arange(t, device=doc_ids.device).expand(b, t)
    new_doc = torch.ones_like(doc_ids, dtype=torch.bool)
    new_doc[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    starts = torch.where(new_doc, index, torch.zeros_like(index)).cummax(1).values
    same = doc_ids[:, :, None] == doc_ids[:, None, :]
    causal = torch.ones(t, t, dtype=torch.bool, device=doc_ids.device).tril()
    return index - starts, (same & causal)[:, None]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_size
        self.q_proj = nn.Linear(cfg.dim, cfg.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * self.head_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        # enable_gqa maps query head h to KV head h // group, the same grouping as HF's repeat_kv.
        # Without a mask, a single query (a decode step) attends to every cached key: no causal mask needed.
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=mask is None and t > 1,
            enable_gqa=self.n_heads != self.n_kv_heads,
        )
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """Decoder-only LM: ``forward(tokens [B, T] int64) -> float32 logits [B, T, vocab]``.

    For generation, ``forward(new_tokens, cache, positions=, key_mask=, last_only=)`` appends to the cache
    and returns logits for the new tokens only (or the last one)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.02) -> None:
        """normal(0, std) for every matrix, ones for norms; seed the RNG first for reproducibility.

        Also (re)ties the head, which ``to_empty`` unties when materialising a meta-built model.
        """
        if self.cfg.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=std)
            elif isinstance(module, RMSNorm):
                module.reset_parameters()

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None, *, positions: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, last_only: bool = False,
                doc_ids: torch.Tensor | None = None, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for ``tokens``. With ``cache``, ``tokens`` follow the ``cache.length`` cached positions and
        are appended to it. ``positions`` [B, T] are the RoPE positions (default: their index);
        ``key_mask`` [B, past + T] is True at real tokens, False at left padding. ``doc_ids`` [B, T] (training on
        packed documents) confines attention to each document and restarts RoPE positions at its start, so
        every document is computed as if it were alone. With ``targets`` [B, T] (training), the summed
        cross-entropy of ``head_loss`` instead of logits."""
        if cache is not None or positions is not None or key_mask is not None:
            return self._forward_incremental(tokens, cache, positions, key_mask, last_only)
        t = tokens.shape[1]
        if t > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {t} exceeds max_seq_len {self.cfg.max_seq_len}")
        h = self.embed_tokens(tokens)
        mask = None
        if doc_ids is not None:
            positions, mask = document_layout(doc_ids)
            cos, sin = rope_cos_sin(self.cfg.head_size, self.cfg.rope_theta, positions.reshape(-1), h.dtype)
            cos, sin = cos.view(*positions.shape, -1).unsqueeze(1), sin.view(*positions.shape, -1).unsqueeze(1)
        else:
            positions = torch.arange(t, device=tokens.device)
            cos, sin = rope_cos_sin(self.cfg.head_size, self.cfg.rope_theta, positions, h.dtype)
        for layer in self.layers:
            h = layer(h, cos, sin, None, 0, mask) if mask is not None else layer(h, cos, sin)
        if targets is not None:
            return self.head_loss(h, targets)
        if last_only:
            h = h[:, -1:]
        return self.lm_head(self.norm(h)).float()

    def head_loss(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed float32 cross-entropy of the final norm and head over the last block's output ``h`` (targets of
        -100 carry none). Activation checkpointing replaces it on the instance with a chunked version
        (``lm/train/parallel.py``) that never holds the logits of the whole sequence."""
        return token_loss_sum(self.lm_head(self.norm(h)), targets)

    def _forward_incremental(self, tokens: torch.Tensor, cache: KVCache | None, positions: torch.Tensor | None,
                             key_mask: torch.Tensor | None, last_only: bool) -> torch.Tensor:
        b, t = tokens.shape
        past = cache.length if cache is not None else 0
        limit = cache.max_len if cache is not None else self.cfg.max_seq_len
        if past + t > limit:
            raise ValueError(f"{past} cached + {t} new positions exceed the {limit} the cache/model can hold")
        if key_mask is not None and key_mask.shape != (b, past + t):
            raise ValueError(f"key_mask must be [B, past + T] = {[b, past + t]}, got {list(key_mask.shape)}")
        h = self.embed_tokens(tokens)
        if positions is None:
            positions = torch.arange(past, past + t, device=tokens.device).expand(b, t)
        if cache is not None:
            cos, sin = cache.cos[positions], cache.sin[positions]
        else:
            cos, sin = rope_cos_sin(self.cfg.head_size, self.cfg.rope_theta, positions.reshape(-1), h.dtype)
            cos, sin = cos.view(b, t, -1), sin.view(b, t, -1)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        mask = attention_mask(key_mask, past, t)
        for i, layer in enumerate(self.layers):
            h = layer(h, cos, sin, cache, i, mask)
        if cache is not None:
            cache.length += t
        if last_only:
            h = h[:, -1:]
        return self._decode_head(self.norm(h), cache).float()

    def _decode_head(self, h: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        """Output logits for the few rows of a decode step, in the operand layouts MKL runs fastest on CPU:
        ``h @ head_t`` for one or two rows (~3x faster than F.linear), ``(W @ h^T)^T`` on the weight itself
        for 3-32 rows (~1.4-2x faster at 8 rows). Elsewhere, or for more rows, plain ``lm_head``."""
        rows = h.shape[0] * h.shape[1]
        if cache is None or h.device.type != "cpu" or rows > 32:
            return self.lm_head(h)
        if cache.head_t is not None and rows <= 2:
            return h @ cache.head_t
        return (self.lm_head.weight @ h.reshape(rows, -1).t()).t().reshape(*h.shape[:2], -1)


def head_chunks(vocab_size: int, dim: int) -> int:
    """How many token chunks a checkpointed head splits a micro-batch into: ``ceil(vocab / dim)``, so one
    chunk's logits hold about as many numbers as the hidden states of the whole micro-batch."""
    return max(1, -(-vocab_size // dim))


def token_loss_sum(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits`` [..., vocab] (computed in float32) summed over ``targets`` that are not -100."""
    logits = logits.float()
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100,
                           reduction="sum")


def to_hf_state_dict(model: Llama) -> dict[str, torch.Tensor]:
    """Our state dict under LlamaForCausalLM's names (``model.`` prefix except ``lm_head``)."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        out[name if name.startswith("lm_head.") else f"model.{name}"] = tensor
    if "lm_head.weight" not in out:
        out["lm_head.weight"] = out["model.embed_tokens.weight"]
    return out


def from_hf_state_dict(cfg: ModelConfig, sd: Mapping[str, torch.Tensor]) -> Llama:
    """A Llama built from a LlamaForCausalLM state dict (rotary buffers ignored; tied head optional)."""
    ours: dict[str, torch.Tensor] = {}
    for name, tensor in sd.items():
        if name.endswith("rotary_emb.inv_freq"):
            continue
        ours[name.removeprefix("model.")] = tensor
    if cfg.tie_embeddings:
        ours.setdefault("lm_head.weight", ours.get("embed_tokens.weight"))
    with torch.device("meta"):
        model = Llama(cfg)
    model.load_state_dict(ours, strict=True, assign=True)
    if cfg.tie_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    return model


def hf_config_dict(cfg: ModelConfig) -> dict[str, object]:
    """A ``transformers.LlamaConfig(**d)``-compatible dict (RoPE given both as transformers 5's
    ``rope_parameters`` and the older top-level ``rope_theta``)."""
    if cfg.dim % cfg.n_heads:
        raise ValueError(f"LlamaConfig requires dim ({cfg.dim}) divisible by n_heads ({cfg.n_heads})")
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.ffn_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_size,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "tie_word_embeddings": cfg.tie_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "initializer_range": 0.02,
    }
