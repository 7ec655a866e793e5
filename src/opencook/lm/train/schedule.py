"""Learning-rate schedules as pure functions of the step, so a resumed run needs no scheduler state."""

from __future__ import annotations

import math


def lr_at(step: int, total_steps: int, kind: str, lr: float, final_lr: float, warmup_steps: int) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total_steps``.

    Warmup is linear from ``lr / warmup_steps`` to ``lr``. After it, ``wsd`` holds ``lr`` (the stable
    phase), ``exp_decay`` decays geometrically so the last step lands on ``final_lr`` (OpenCoder's
    annealing), and ``cosine`` follows a half cosine down to ``final_lr`` (SFT).
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if kind == "wsd":
        return lr
    span = max(total_steps - warmup_steps - 1, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    if kind == "exp_decay":
        if final_lr <= 0:
            raise ValueError("exp_decay needs final_lr > 0 (a geometric decay cannot reach 0)")
        return lr * (final_lr / lr) ** progress
    if kind == "cosine":
        return final_lr + 0.5 * (lr - final_lr) * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {kind!r}: use wsd, exp_decay or cosine")
