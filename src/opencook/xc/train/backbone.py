"""Backbones that turn a sample into an embedding: an MLP over dense features, or a bag of tokens.

They are deliberately small: the classifier over C classes is the system under test, and on this
scale the backbone only has to be a real, data-parallel network in front of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class BackboneConfig:
    embedding_dim: int = 128
    hidden: int = 256
    layers: int = 2
    token_dim: int = 64

    def __post_init__(self) -> None:
        if min(self.embedding_dim, self.hidden, self.token_dim) < 1 or self.layers < 1:
            raise ValueError(f"backbone sizes must be >= 1: {self}")


class MLPBackbone(nn.Module):
    def __init__(self, input_dim: int, cfg: BackboneConfig) -> None:
        super().__init__()
        dims = [input_dim] + [cfg.hidden] * (cfg.layers - 1)
        blocks: list[nn.Module] = []
        for a, b in zip(dims, dims[1:], strict=False):
            blocks += [nn.Linear(a, b), nn.LayerNorm(b), nn.GELU()]
        blocks.append(nn.Linear(dims[-1], cfg.embedding_dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TokenBagBackbone(nn.Module):
    """Mean of token embeddings (id 0 = padding, ignored), then the MLP."""

    def __init__(self, vocab: int, cfg: BackboneConfig) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab, cfg.token_dim, mode="mean", padding_idx=0)
        self.mlp = MLPBackbone(cfg.token_dim, cfg)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.bag(tokens))


def make_backbone(input_kind: str, input_dim: int, cfg: BackboneConfig) -> nn.Module:
    if input_kind == "dense":
        return MLPBackbone(input_dim, cfg)
    if input_kind == "tokens":
        return TokenBagBackbone(input_dim, cfg)
    raise ValueError(f"no backbone for input kind {input_kind!r} (expected 'dense' or 'tokens')")
