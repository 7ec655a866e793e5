"""A KV cache of independent slots, and the two forwards the engine runs over it.

Each slot holds one sequence at its own position, so a decode step feeds one token per live slot
whatever each has generated so far: no left padding, no batch waiting for its slowest row. Live slots
are kept as a prefix ``0..n-1`` (a retiring slot is filled by moving the last one into it), so every
step works on plain views of the buffers. The position axis grows by doubling when a longer sequence
arrives, so memory follows the longest sequence served, not the model's context.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from opencook.lm.model.llama import Llama, apply_rope, rope_cos_sin


class SlotCache:
    """Per layer keys/values ``[slots, kv_heads, capacity, head_dim]`` and the RoPE tables for ``capacity``."""

    def __init__(self, model: Llama, slots: int, capacity: int = 256) -> None:
        self.model, self.slots = model, slots
        weight = model.embed_tokens.weight
        self.dtype, self.device = weight.dtype, weight.device
        self.capacity = 0
        self.k: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []
        self.reserve(min(capacity, model.cfg.max_seq_len))

    def reserve(self, length: int) -> None:
        """Make room for ``length`` positions per slot (doubling, capped at the model's context)."""
        cfg = self.model.cfg
        if length > cfg.max_seq_len:
            raise ValueError(f"{length} positions exceed the model's context of {cfg.max_seq_len}")
        if length <= self.capacity:
            return
        cap = min(cfg.max_seq_len, max(length, 2 * self.capacity))
        shape = (self.slots, cfg.n_kv_heads, cap, cfg.head_size)
        new_k = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in range(cfg.n_layers)]
        new_v = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in range(cfg.n_layers)]
        for old, new in zip(self.k + self.v, new_k + new_v, strict=False):  # the first call has no `old`
            new[:, :, : self.capacity] = old
        self.k, self.v, self.capacity = new_k, new_v, cap
        self.cos, self.sin = rope_cos_sin(cfg.head_size, cfg.rope_theta,
                                          torch.arange(cap, device=self.device), self.dtype)

    def move(self, src: int, dst: int, length: int) -> None:
        """Copy slot ``src``'s first ``length`` positions into slot ``dst`` (keeping live slots a prefix)."""
        for buf in self.k + self.v:
            buf[dst, :, :length] = buf[src, :, :length]

    def bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.k + self.v)


def _attend(attn, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    b, t, _ = x.shape
    q = attn.q_proj(x).view(b, t, attn.n_heads, attn.head_dim).transpose(1, 2)
    k = attn.k_proj(x).view(b, t, attn.n_kv_heads, attn.head_dim).transpose(1, 2)
    v = attn.v_proj(x).view(b, t, attn.n_kv_heads, attn.head_dim).transpose(1, 2)
    return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v


def _finish(layer, h: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    attn = layer.self_attn
    b, _, t, _ = out.shape
    h = h + attn.o_proj(out.transpose(1, 2).reshape(b, t, attn.n_heads * attn.head_dim))
    return h + layer.mlp(layer.post_attention_layernorm(h))


def _head(model: Llama, h: torch.Tensor) -> torch.Tensor:
    """Logits [rows, vocab] for the final hidden states [rows, dim] (float32)."""
    h = model.norm(h)
    if h.device.type == "cpu" and h.shape[0] <= 32:  # (W @ h^T)^T: the layout MKL runs fastest for few rows
        return (model.lm_head.weight @ h.t()).t().float()
    return model.lm_head(h).float()


def prefill(cache: SlotCache, slot: int, tokens: torch.Tensor, start: int) -> torch.Tensor:
    """Feed ``tokens`` [t] to ``slot`` at positions ``start..start+t-1`` (the slot already holds ``start``);
    return the logits [vocab] after the last one."""
    model = cache.model
    t = tokens.shape[0]
    end = start + t
    h = model.embed_tokens(tokens)[None]
    cos, sin = cache.cos[start:end], cache.sin[start:end]
    mask = None
    if start:
        k_pos = torch.arange(end, device=tokens.device)
        mask = (k_pos[None, :] <= torch.arange(start, end, device=tokens.device)[:, None])[None, None]
    for i, layer in enumerate(model.layers):
        attn = layer.self_attn
        q, k, v = _attend(attn, layer.input_layernorm(h), cos, sin)
        cache.k[i][slot, :, start:end] = k[0]
        cache.v[i][slot, :, start:end] = v[0]
        keys, values = cache.k[i][slot: slot + 1, :, :end], cache.v[i][slot: slot + 1, :, :end]
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, is_causal=mask is None and t > 1,
                                             enable_gqa=attn.n_heads != attn.n_kv_heads)
        h = _finish(layer, h, out)
    return _head(model, h[0, -1:])[0]


def decode(cache: SlotCache, tokens: torch.Tensor, positions: torch.Tensor, span: int) -> torch.Tensor:
    """One token per live slot ``0..n-1``: ``tokens`` [n] at ``positions`` [n] (each slot's own); ``span``
    is ``max(positions) + 1``, the keys worth reading. Returns logits [n, vocab]."""
    model = cache.model
    n = tokens.shape[0]
    h = model.embed_tokens(tokens)[:, None]
    cos, sin = cache.cos[positions][:, None, None], cache.sin[positions][:, None, None]
    rows = torch.arange(n, device=tokens.device)
    mask = None
    if n > 1:  # a slot reads only its own filled positions; a lone slot is at the span's end
        mask = (torch.arange(span, device=tokens.device)[None, :] <= positions[:, None])[:, None, None]
    for i, layer in enumerate(model.layers):
        attn = layer.self_attn
        q, k, v = _attend(attn, layer.input_layernorm(h), cos, sin)
        cache.k[i][rows, :, positions] = k[:, :, 0]
        cache.v[i][rows, :, positions] = v[:, :, 0]
        keys, values = cache.k[i][:n, :, :span], cache.v[i][:n, :, :span]
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask,
                                             enable_gqa=attn.n_heads != attn.n_kv_heads)
        h = _finish(layer, h, out)
    return _head(model, h[:, 0])
