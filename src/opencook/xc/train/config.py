"""The trainer's typed config, loaded from YAML: a typo fails before any process starts work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opencook.kit.config import build_config, read_yaml_config
from opencook.xc.head.config import HeadConfig
from opencook.xc.train.backbone import BackboneConfig
from opencook.xc.train.lr_rules import PlateauConfig
from opencook.xc.train.overlap import OverlapConfig
from opencook.xc.train.sparsify import SparsifyConfig


@dataclass(frozen=True)
class OptimConfig:
    """One optimizer family for backbone and head; the head may use its own learning rate.

    ``lars``/``lamb`` apply to the backbone only (layer-wise trust ratio, ``opencook.xc.train.large_batch``);
    the class-sharded head keeps its row-sparse optimizer: momentum SGD under ``lars``, AdamW under ``lamb``.
    ``trust_coefficient`` is their eta (None: 0.001 for LARS, 1.0 for LAMB). ``plateau`` decays every LR
    when the eval metric stops improving (off by default).
    """

    name: Literal["sgd", "adamw", "lars", "lamb"] = "sgd"
    lr: float = 0.1
    head_lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    inactive_rows: Literal["lazy", "dense"] = "lazy"
    warmup_steps: int = 0
    trust_coefficient: float | None = None
    plateau: PlateauConfig = field(default_factory=PlateauConfig)

    def __post_init__(self) -> None:
        if self.lr < 0 or (self.head_lr is not None and self.head_lr < 0):
            raise ValueError(f"optim.lr and optim.head_lr must be >= 0, got {self.lr}, {self.head_lr}")
        if self.trust_coefficient is not None and self.trust_coefficient <= 0:
            raise ValueError(f"optim.trust_coefficient must be > 0 (or null for the optimizer's default), "
                             f"got {self.trust_coefficient}")
        if self.warmup_steps < 0:
            raise ValueError(f"optim.warmup_steps must be >= 0, got {self.warmup_steps}")


@dataclass(frozen=True)
class TrainConfig:
    name: str = "xc"
    data: dict[str, Any] = field(default_factory=lambda: {"kind": "synthetic"})
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sparsify: SparsifyConfig = field(default_factory=SparsifyConfig)
    overlap: OverlapConfig = field(default_factory=OverlapConfig)
    steps: int = 200
    global_batch: int = 512
    eval_every: int = 100
    eval_batch: int = 1024
    log_every: int = 10
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "global_batch", "eval_batch", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_every < 0 or self.checkpoint_every < 0:
            raise ValueError("eval_every and checkpoint_every must be >= 0 (0 = only at the end)")


def parse_train_config(values: dict[str, Any] | None, where: str = "xc") -> TrainConfig:
    """The typed config; the dataset section is checked too, so a typo there fails before launch."""
    from opencook.xc.data import dataset_config

    cfg = build_config(TrainConfig, values, where)
    dataset_config(cfg.data, f"{where}.data")
    return cfg


def load_train_config(path: Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config; ``overrides`` are dotted keys (``{"head.mode": "full"}``) applied on top."""
    values = read_yaml_config(path, overrides, ("data.sources[]", "data.cache_dir"))  # relative to the file
    return parse_train_config(values, str(path))
