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
- ``feature_index``: how feature anchors find each sample's nearest centres -- ``exact`` (score every
  class of the shard), ``ivf`` (an IVF index, ``head/feature_index.py``: ``feature_nprobe`` of
  ``feature_nlist`` lists, coarse centroids retrained every ``refresh_every`` steps), ``auto`` (ivf above
  ``FEATURE_EXACT_MAX`` classes).
- ``imprint`` (with ``centres: features``): a class's W row is turned to its feature centre the first time
  the class is seen, before the step's logits (weight imprinting: the row of a class not yet trained
  starts where its samples are instead of at a random direction; its norm is kept).

Defaults (the ablation's winner): feature anchors over feature centres, with imprinting. ``centres`` and
``imprint`` left unset resolve by mode (``resolved``): knn mode gets feature centres and imprinting; full
and random mode stay plain softmax (the exactness references) unless a run asks for centres or imprinting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

ANCHORS = ("label", "feature", "mix")
FEATURE_INDEXES = ("auto", "exact", "ivf")
FEATURE_EXACT_MAX = 50_000


@dataclass(frozen=True)
class SelectionConfig:
    anchor: Literal["label", "feature", "mix"] = "feature"
    feature_k: int | None = None
    """Nearest classes per sample for ``feature``/``mix`` anchors; None = the head's graph_k."""
    uniform_share: float = 0.0
    logq: bool = False
    warmup_steps: int = 0
    warmup: Literal["full", "uniform"] = "uniform"
    centres: Literal["weights", "features"] | None = None
    """None: ``features`` in knn mode, ``weights`` in full and random mode."""
    centre_momentum: float = 0.9
    upkeep: Literal["rebuild", "incremental"] = "rebuild"
    feature_index: Literal["auto", "exact", "ivf"] = "auto"
    feature_nlist: int | None = None
    """IVF lists for ``feature_index: ivf``; None = √C."""
    feature_nprobe: int = 16
    imprint: bool | None = None
    """None: on wherever the centres are features."""

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
        if self.centres not in (None, "weights", "features"):
            raise ValueError(f"selection.centres must be 'weights' or 'features', got {self.centres!r}")
        if not 0 <= self.centre_momentum < 1:
            raise ValueError(f"selection.centre_momentum must be in [0, 1), got {self.centre_momentum}")
        if self.feature_index not in FEATURE_INDEXES:
            raise ValueError(f"selection.feature_index {self.feature_index!r} is not one of {FEATURE_INDEXES}")
        if self.feature_nprobe < 1 or (self.feature_nlist is not None and self.feature_nlist < 1):
            raise ValueError(f"selection.feature_nprobe and feature_nlist must be >= 1, got {self.feature_nprobe}, "
                             f"{self.feature_nlist}")
        if self.imprint and self.centres == "weights":
            raise ValueError("selection.imprint turns W rows to their feature centres: set selection.centres=features "
                             "(or selection.imprint=false)")
        if self.upkeep not in ("rebuild", "incremental"):
            raise ValueError(f"selection.upkeep must be 'rebuild' or 'incremental', got {self.upkeep!r}")

    def resolved(self, mode: str) -> SelectionConfig:
        """This config with ``centres`` and ``imprint`` fixed for a head of ``mode``."""
        centres = self.centres or ("features" if mode == "knn" else "weights")
        imprint = centres == "features" if self.imprint is None else self.imprint
        if imprint and centres != "features":
            raise ValueError("selection.imprint turns W rows to their feature centres: set selection.centres=features")
        return replace(self, centres=centres, imprint=imprint)

    @property
    def uses_graph(self) -> bool:
        return self.anchor in ("label", "mix")

    @property
    def uses_features(self) -> bool:
        return self.anchor in ("feature", "mix")

    def indexed(self, num_classes: int) -> bool:
        """Whether feature anchors query an IVF index (else they score every class of the shard)."""
        if self.feature_index == "auto":
            return num_classes > FEATURE_EXACT_MAX
        return self.feature_index == "ivf"
