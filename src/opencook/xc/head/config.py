"""The head's typed configuration: which classes are active, how logits are formed, the graph."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from opencook.xc.head.active_set import MODES
from opencook.xc.head.logits import LogitConfig
from opencook.xc.head.selection import SelectionConfig


@dataclass(frozen=True)
class HeadConfig:
    """``mode``: full | knn | random. ``active_budget`` (classes) or ``sample_rate`` (of C) fixes the
    active-set size: random mode fills up to it; knn mode pads up to it (static shapes) and may exceed
    it when labels and neighbours alone are more. ``graph_k``/``refresh_every``/``graph_method`` shape
    the KNN graph over class centres."""

    mode: str = "knn"
    active_budget: int | None = None
    sample_rate: float | None = None
    graph_k: int = 10
    refresh_every: int = 100
    graph_method: str = "auto"
    graph_lag: int = 0
    """0: rebuild the graph inside the step that needs it. L > 0: rebuild on a side thread from the
    centres of the due step t and switch to it at step t + L (steps in between use the old graph)."""
    graph_recall_sample: int = 1000
    """After an approximate (faiss) rebuild, measure recall@k against exact search on this many
    classes (costs 2*sample*C*D FLOPs); 0 = do not measure."""
    logits: LogitConfig = field(default_factory=LogitConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    """How knn mode picks its classes (anchors, uniform share, warm-up, centres, graph upkeep); stored resolved
    for ``mode`` (``SelectionConfig.resolved``)."""
    coverage_every: int = 0
    """Every N steps measure the coverage gauge (``head.last_coverage``); 0 = never."""
    coverage_rows: int = 64
    """Gathered samples the gauge scores against all C classes (costs rows*C*D FLOPs)."""
    init_std: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"head mode {self.mode!r} is not one of {MODES}")
        object.__setattr__(self, "selection", self.selection.resolved(self.mode))
        if self.active_budget is not None and self.sample_rate is not None:
            raise ValueError("give active_budget or sample_rate, not both")
        if self.sample_rate is not None and not 0 < self.sample_rate <= 1:
            raise ValueError(f"sample_rate must be in (0, 1], got {self.sample_rate}")
        if self.active_budget is not None and self.active_budget < 1:
            raise ValueError(f"active_budget must be >= 1, got {self.active_budget}")
        if self.mode == "random" and self.active_budget is None and self.sample_rate is None:
            raise ValueError("random mode needs active_budget or sample_rate")
        if self.graph_recall_sample < 0:
            raise ValueError(f"graph_recall_sample must be >= 0, got {self.graph_recall_sample}")
        if not 0 <= self.graph_lag < self.refresh_every:
            raise ValueError(f"graph_lag must be in [0, refresh_every={self.refresh_every}), got {self.graph_lag}")
        if self.coverage_every < 0 or self.coverage_rows < 1:
            raise ValueError(f"coverage_every must be >= 0 and coverage_rows >= 1, got {self.coverage_every}, "
                             f"{self.coverage_rows}")
        if self.graph_lag and self.selection.upkeep == "incremental":
            raise ValueError("selection.upkeep=incremental updates the graph inside the step: set graph_lag=0")
        if self.graph_k < 1 or self.refresh_every < 1:
            raise ValueError(f"graph_k and refresh_every must be >= 1, got {self.graph_k}, {self.refresh_every}")

    def budget(self, num_classes: int) -> int | None:
        if self.mode == "full":
            return None
        if self.sample_rate is not None:
            return min(num_classes, math.ceil(self.sample_rate * num_classes))
        return None if self.active_budget is None else min(num_classes, self.active_budget)
