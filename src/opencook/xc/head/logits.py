"""Logits of the gathered embeddings against a set of class rows: plain linear, or cosine with margin.

Cosine logits (normalised embeddings and rows, times a scale) are what face/product recognition
heads use; the additive margins are CosFace (``s*(cos - m)`` at the target) and ArcFace
(``s*cos(theta + m)`` at the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LOGIT_KINDS = ("linear", "cosine")
MARGIN_KINDS = ("cosface", "arcface")


@dataclass(frozen=True)
class LogitConfig:
    kind: str = "linear"
    scale: float = 30.0
    margin: float = 0.0
    margin_kind: str = "cosface"

    def __post_init__(self) -> None:
        if self.kind not in LOGIT_KINDS:
            raise ValueError(f"logit kind {self.kind!r} is not one of {LOGIT_KINDS}")
        if self.margin_kind not in MARGIN_KINDS:
            raise ValueError(f"margin kind {self.margin_kind!r} is not one of {MARGIN_KINDS}")
        if self.kind == "linear" and self.margin:
            raise ValueError("a margin needs cosine logits: set kind='cosine' or margin=0")
        if self.scale <= 0 or self.margin < 0:
            raise ValueError(f"scale must be > 0 and margin >= 0, got scale={self.scale} margin={self.margin}")


def class_logits(embeddings: torch.Tensor, rows: torch.Tensor, target_pos: torch.Tensor,
                 cfg: LogitConfig) -> torch.Tensor:
    """[B, A] logits; ``target_pos`` (-1 = not here) says where the margin applies."""
    if cfg.kind == "linear":
        return embeddings @ rows.t()
    cos = F.normalize(embeddings, dim=1) @ F.normalize(rows, dim=1).t()
    if cfg.margin:
        where = (target_pos >= 0).nonzero().squeeze(1)
        cols = target_pos[where]
        target = cos[where, cols]
        if cfg.margin_kind == "cosface":
            moved = target - cfg.margin
        else:
            theta = torch.acos(target.clamp(-1 + 1e-7, 1 - 1e-7))
            moved = torch.cos(torch.clamp(theta + cfg.margin, max=math.pi))
        cos = cos.index_put((where, cols), moved)
    return cos * cfg.scale
