"""Training FLOPs per token and model FLOPs utilisation (MFU).

``flops_per_token = 6 * N + 12 * n_layers * (n_heads * head_dim) * seq_len`` (PaLM, appendix B):
6N is the forward (2N) and backward (4N) of every matmul weight, where N excludes the input
embedding (a lookup, not a matmul) but includes the output head; the second term is QK^T and
attention-times-V, counted for the full T x T score matrix as is conventional (causal masking would
halve it, but the kernels do not skip all of that work, and MFU figures in the literature use this).
"""

from __future__ import annotations

from opencook.lm.model.config import ModelConfig, num_params

# Dense bf16 peak FLOP/s per device (no sparsity), for MFU.
PEAK_FLOPS: dict[str, float] = {
    "h100": 989e12,
    "h800": 989e12,
    "h200": 989e12,
    "a100": 312e12,
}


def matmul_params(cfg: ModelConfig) -> int:
    """Parameters that take part in a matmul: all but the input embedding lookup.

    With tied embeddings the shared matrix is the output head, so it stays counted.
    """
    return num_params(cfg) - (0 if cfg.tie_embeddings else cfg.vocab_size * cfg.dim)


def flops_per_token(cfg: ModelConfig, seq_len: int | None = None) -> int:
    """Training (forward + backward) FLOPs per token at ``seq_len`` (default: ``max_seq_len``)."""
    t = cfg.max_seq_len if seq_len is None else seq_len
    return 6 * matmul_params(cfg) + 12 * cfg.n_layers * cfg.n_heads * cfg.head_size * t


def mfu(
    tokens_per_s: float, cfg: ModelConfig, seq_len: int | None = None, peak_flops: float | str = "h100"
) -> float:
    """Achieved / peak FLOP/s, with ``tokens_per_s`` per device and ``peak_flops`` per device."""
    peak = PEAK_FLOPS[peak_flops.lower()] if isinstance(peak_flops, str) else float(peak_flops)
    return tokens_per_s * flops_per_token(cfg, seq_len) / peak
