"""Learning-rate rules for the xc trainer: linear warm-up and decay-on-plateau of a validation metric.

Large batches need warm-up (the first steps' trust ratios and moments are unreliable) and a schedule
that does not have to be guessed in advance: ``PlateauRule`` decays the LR by ``factor`` once the
eval metric has not improved for ``patience`` evaluations in a row, never below ``min_lr``.

Unlike ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (which decays after ``patience + 1`` bad
epochs and owns an optimizer), the rule decays on exactly the ``patience``-th non-improving eval and
only returns a scale: the trainer applies it to the backbone's and the head's own base LRs. Its
whole state is a few numbers (``state_dict``), saved in the checkpoint, so a resumed run makes the
same decisions as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal


def warmup_scale(step: int, warmup_steps: int) -> float:
    """Linear warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then 1."""
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0


@dataclass(frozen=True)
class PlateauConfig:
    """Decay on plateau; ``enabled: false`` (the default) leaves the LR schedule as it was."""

    enabled: bool = False
    metric: Literal["top1", "top5"] = "top1"
    factor: float = 0.5
    patience: int = 2
    threshold: float = 0.0
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.factor < 1:
            raise ValueError(f"plateau.factor must be in (0, 1), got {self.factor}")
        if self.patience < 1:
            raise ValueError(f"plateau.patience must be >= 1 evals, got {self.patience}")
        if self.threshold < 0 or self.min_lr < 0:
            raise ValueError(f"plateau.threshold and plateau.min_lr must be >= 0, got {self.threshold}, {self.min_lr}")


class PlateauRule:
    """Tracks the best metric (higher is better) and the current LR; ``observe`` after each eval."""

    def __init__(self, base_lr: float, factor: float = 0.5, patience: int = 2, threshold: float = 0.0,
                 min_lr: float = 0.0) -> None:
        PlateauConfig(enabled=True, factor=factor, patience=patience, threshold=threshold, min_lr=min_lr)
        if base_lr <= 0:
            raise ValueError(f"PlateauRule needs base_lr > 0, got {base_lr}")
        self.base_lr, self.factor, self.patience = base_lr, factor, patience
        self.threshold, self.min_lr = threshold, min_lr
        self.lr = base_lr
        self.best = -math.inf
        self.bad_evals = 0
        self.decays = 0

    @classmethod
    def from_config(cls, cfg: PlateauConfig, base_lr: float) -> PlateauRule:
        return cls(base_lr, cfg.factor, cfg.patience, cfg.threshold, cfg.min_lr)

    @property
    def scale(self) -> float:
        """Current LR over the base LR: the trainer multiplies every group's base LR by it."""
        return self.lr / self.base_lr

    def observe(self, metric: float) -> bool:
        """Record one eval; True when this eval decayed the LR."""
        if not math.isfinite(metric):
            raise ValueError(f"plateau rule got a non-finite metric {metric}")
        if metric > self.best + self.threshold:
            self.best, self.bad_evals = metric, 0
            return False
        self.bad_evals += 1
        if self.bad_evals < self.patience:
            return False
        self.bad_evals = 0
        new_lr = max(self.lr * self.factor, self.min_lr)
        if new_lr >= self.lr:
            return False  # already at min_lr
        self.lr, self.decays = new_lr, self.decays + 1
        return True

    def state_dict(self) -> dict[str, float | int]:
        return {"lr": self.lr, "best": self.best, "bad_evals": self.bad_evals, "decays": self.decays,
                "base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        missing = {"lr", "best", "bad_evals", "decays", "base_lr"} - set(state)
        if missing:
            raise ValueError(f"plateau rule state lacks {sorted(missing)}; it was not written by PlateauRule")
        if state["base_lr"] != self.base_lr:
            raise ValueError(f"plateau rule state was saved for base lr {state['base_lr']}, this run's is "
                             f"{self.base_lr}; resume with the same optim.lr or start a fresh run directory")
        self.lr, self.best = float(state["lr"]), float(state["best"])
        self.bad_evals, self.decays = int(state["bad_evals"]), int(state["decays"])
