"""Model configs: one typed dataclass and a named registry of presets.

The ``1.5b`` and ``8b`` presets are OpenCoder's published architectures (codelm.md); ``tiny`` is
the same shape of network small enough to train on a laptop CPU in tests and smoke runs.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """A LLaMA-style decoder. ``head_dim=None`` means ``dim // n_heads``."""

    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    head_dim: int | None = None
    rope_theta: float = 10_000.0
    max_seq_len: int = 4096
    norm_eps: float = 1e-5
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "max_seq_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"ModelConfig.{name} must be a positive int, got {value!r}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads}) "
                "so each KV head serves a whole group of query heads"
            )
        if self.head_dim is None and self.dim % self.n_heads:
            raise ValueError(
                f"dim ({self.dim}) is not divisible by n_heads ({self.n_heads}): set head_dim explicitly"
            )
        if self.head_dim is not None and (not isinstance(self.head_dim, int) or self.head_dim <= 0):
            raise ValueError(f"ModelConfig.head_dim must be a positive int or None, got {self.head_dim!r}")
        if self.head_size % 2:
            raise ValueError(f"head dim ({self.head_size}) must be even: RoPE rotates pairs of channels")
        if self.rope_theta <= 0 or self.norm_eps <= 0:
            raise ValueError("rope_theta and norm_eps must be positive")

    @property
    def head_size(self) -> int:
        """The resolved per-head dimension (``head_dim`` or ``dim // n_heads``)."""
        return self.head_dim if self.head_dim is not None else self.dim // self.n_heads


MODEL_PRESETS: dict[str, ModelConfig] = {
    # CPU-sized: same architecture, trains in seconds; GQA (4 query heads share 2 KV heads) so the
    # grouped path is exercised by every smoke run.
    "tiny": ModelConfig(
        vocab_size=2048, dim=128, n_layers=4, n_heads=4, n_kv_heads=2, ffn_dim=352,
        rope_theta=10_000.0, max_seq_len=256, norm_eps=1e-5, tie_embeddings=False,
    ),
    # OpenCoder-1.5B: MHA with head dim 160, untied embeddings.
    "1.5b": ModelConfig(
        vocab_size=96_640, dim=2240, n_layers=24, n_heads=14, n_kv_heads=14, ffn_dim=6144,
        head_dim=160, rope_theta=10_000.0, max_seq_len=4096, norm_eps=1e-5, tie_embeddings=False,
    ),
    # OpenCoder-8B: GQA 32/8, long-context RoPE base.
    "8b": ModelConfig(
        vocab_size=96_640, dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, ffn_dim=14_336,
        head_dim=128, rope_theta=500_000.0, max_seq_len=8192, norm_eps=1e-5, tie_embeddings=False,
    ),
}  # fmt: skip


def model_config(name: str, **overrides: object) -> ModelConfig:
    """The preset ``name`` with fields replaced by ``overrides`` (validated again)."""
    if name not in MODEL_PRESETS:
        close = difflib.get_close_matches(name, list(MODEL_PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown model preset {name!r}{hint} (known: {', '.join(MODEL_PRESETS)})")
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"unknown ModelConfig field(s) {unknown}; known: {sorted(fields)}")
    return dataclasses.replace(MODEL_PRESETS[name], **overrides)


def num_params(cfg: ModelConfig) -> int:
    """Exact parameter count, computed from the shapes (a tied head is counted once)."""
    d, hd = cfg.dim, cfg.head_size
    attn = d * cfg.n_heads * hd * 2 + d * cfg.n_kv_heads * hd * 2
    mlp = 3 * d * cfg.ffn_dim
    per_layer = attn + mlp + 2 * d
    embed = cfg.vocab_size * d
    head = 0 if cfg.tie_embeddings else cfg.vocab_size * d
    return embed + head + cfg.n_layers * per_layer + d
