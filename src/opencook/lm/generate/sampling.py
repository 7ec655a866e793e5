"""Choosing the next token: greedy, or temperature + nucleus (top-p) sampling from a seeded generator.

The settings themselves, and their checks, are ``opencook.completions.sampling.Sampling``."""

from __future__ import annotations

import torch


def next_tokens(logits: torch.Tensor, temperature: float, top_p: float,
                generator: torch.Generator | None) -> torch.Tensor:
    """One token id per row of ``logits`` [B, V]. ``temperature == 0`` is argmax (ties go to the lowest id,
    as in Hugging Face). Nucleus keeps the smallest prefix of the sorted distribution whose mass reaches
    ``top_p`` (always at least the top token), renormalised by ``multinomial``."""
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p >= 1:
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    sorted_p, order = probs.sort(-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p
    sorted_p = sorted_p.masked_fill(before >= top_p, 0.0)
    choice = torch.multinomial(sorted_p, 1, generator=generator)
    return order.gather(-1, choice).squeeze(-1)
