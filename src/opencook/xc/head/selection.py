"""How a sampled head chooses its active classes: one typed config, every strategy a field.

The strategies compose (``docs/xc.md`` has the ablation that picked the defaults):

- ``anchor``: where the graph-chosen classes come from -- ``label`` (each gathered label's graph
  neighbours, the original KNN softmax), ``feature`` (each sample's nearest class centres to its own
  embedding, HF-softmax's query; needs no graph) or ``mix`` (both).
- ``uniform_share``: this share of the budget is always uniform random classes; the anchored classes
  are cut by neighbour depth to fit the rest. ``logq`` adds -log(inclusion probability) to the logits
  of the uniform classes (sampled softmax's correction; 0 for labels and anchored classes).
- ``warmup_steps`` with ``warmup`` = ``full`` (every class) or ``uniform`` (labels + random classes):
  W has no class structure yet, so a graph over it proposes noise.
- ``centres``: the graph (and feature queries) over W's rows (``weights``) or over momentum-averaged
  class feature centres (``features``: the mean normalised embedding of each class's samples, which
  take the class structure long before sampled training shapes W). Classes not yet seen use W's row.
- ``upkeep``: ``rebuild`` the graph every ``refresh_every`` steps, or ``incremental``: re-query only
  the classes whose centre changed since the last build and insert them into their neighbours' lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ANCHORS = ("label", "feature", "mix")


@dataclass(frozen=True)
class SelectionConfig:
    anchor: Literal["label", "feature", "mix"] = "label"
    feature_k: int | None = None
    """Nearest classes per sample for ``feature``/``mix`` anchors; None = the head's graph_k."""
    uniform_share: float = 0.0
    logq: bool = False
    warmup_steps: int = 0
    warmup: Literal["full", "uniform"] = "uniform"
    centres: Literal["weights", "features"] = "weights"
    centre_momentum: float = 0.9
    upkeep: Literal["rebuild", "incremental"] = "rebuild"

    def __post_init__(self) -> None:
        if self.anchor not in ANCHORS:
            raise ValueError(f"selection.anchor {self.anchor!r} is not one of {ANCHORS}")
        if not 0 <= self.uniform_share < 1:
            raise ValueError(f"selection.uniform_share must be in [0, 1), got {self.uniform_share}")
        if self.feature_k is not None and self.feature_k < 1:
            raise ValueError(f"selection.feature_k must be >= 1 (or null for graph_k), got {self.feature_k}")
        if self.warmup_steps < 0:
            raise ValueError(f"selection.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.warmup not in ("full", "uniform"):
            raise ValueError(f"selection.warmup must be 'full' or 'uniform', got {self.warmup!r}")
        if self.centres not in ("weights", "features"):
            raise ValueError(f"selection.centres must be 'weights' or 'features', got {self.centres!r}")
        if not 0 <= self.centre_momentum < 1:
            raise ValueError(f"selection.centre_momentum must be in [0, 1), got {self.centre_momentum}")
        if self.upkeep not in ("rebuild", "incremental"):
            raise ValueError(f"selection.upkeep must be 'rebuild' or 'incremental', got {self.upkeep!r}")

    @property
    def uses_graph(self) -> bool:
        return self.anchor in ("label", "mix")

    @property
    def uses_features(self) -> bool:
        return self.anchor in ("feature", "mix")
