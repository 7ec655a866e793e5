"""The LM trainer's typed config: one YAML recipe per phase (pretrain, anneal, sft), dotted overrides.

A typo or an impossible batch layout fails here, in the launching process, before any rank starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opencook.kit.config import ConfigError, build_config, read_yaml_config

Phase = Literal["pretrain", "anneal", "sft"]


@dataclass(frozen=True)
class ModelSection:
    """A preset from ``opencook.lm.model.MODEL_PRESETS`` plus field overrides. ``vocab_size`` defaults to
    the tokenizer's; a run that starts from ``init_from`` takes the architecture from there instead."""

    preset: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSection:
    """A packed dataset (``opencook lm data build``) and its mixture weight."""

    path: str
    weight: float = 1.0


@dataclass(frozen=True)
class DataSection:
    """Pretrain/anneal read ``sources`` (packed, weighted); SFT reads one ``sft`` directory
    (``opencook lm data sft``). ``global_batch`` is in sequences, summed over ranks and micro-steps."""

    sources: list[SourceSection] = field(default_factory=list)
    sft: str | None = None
    seq_len: int = 256
    global_batch: int = 16


@dataclass(frozen=True)
class OptimSection:
    """AdamW. ``final_lr`` is where annealing's exponential decay and SFT's cosine end."""

    lr: float = 3e-4
    final_lr: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.1
    clip_grad: float = 1.0


@dataclass(frozen=True)
class ScheduleSection:
    """``wsd``: linear warmup then constant (the stable phase; annealing is its own run).
    ``exp_decay``: warmup then ``lr * (final_lr/lr) ** progress`` (OpenCoder's annealing).
    ``cosine``: warmup then cosine to ``final_lr`` (SFT). ``auto`` picks by phase."""

    kind: Literal["auto", "wsd", "exp_decay", "cosine"] = "auto"
    warmup_steps: int = 0


@dataclass(frozen=True)
class LMTrainConfig:
    name: str = "lm"
    phase: Phase = "pretrain"
    tokenizer: str | None = None
    init_from: str | None = None
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    steps: int | None = None
    epochs: float | None = None
    micro_batch: int = 4
    parallel: Literal["ddp", "fsdp"] = "ddp"
    compile: bool = False
    dtype: Literal["float32", "bfloat16"] = "bfloat16"
    seed: int = 0
    threads: int | None = None
    log_every: int = 10
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    tensorboard: bool = True

    def __post_init__(self) -> None:
        for name in ("micro_batch", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0 (0 = only at the end)")
        if self.data.seq_len < 2 or self.data.global_batch < 1:
            raise ValueError("data.seq_len must be >= 2 and data.global_batch >= 1")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("set exactly one of steps (pretrain/anneal) or epochs (sft)")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.phase == "sft":
            if not self.data.sft:
                raise ValueError("phase sft needs data.sft: a directory from `opencook lm data sft`")
        elif not self.data.sources:
            raise ValueError(
                f"phase {self.phase} needs data.sources: packed datasets from `opencook lm data build`"
            )
        if self.epochs is not None and self.phase != "sft":
            raise ValueError("epochs applies to sft; pretrain and anneal count steps")
        if self.phase == "anneal" and not self.init_from:
            raise ValueError("phase anneal needs init_from: the pretraining run (or one of its checkpoints)")
        if any(s.weight <= 0 for s in self.data.sources):
            raise ValueError("every data.sources[].weight must be > 0")
        if self.optim.lr <= 0 or self.optim.final_lr < 0 or self.optim.clip_grad < 0:
            raise ValueError("optim.lr must be > 0, optim.final_lr >= 0 and optim.clip_grad >= 0 (0 = off)")

    @property
    def schedule_kind(self) -> str:
        if self.schedule.kind != "auto":
            return self.schedule.kind
        return {"pretrain": "wsd", "anneal": "exp_decay", "sft": "cosine"}[self.phase]

    def grad_accum(self, world_size: int) -> int:
        """Micro-steps per optimizer step; the global batch must split evenly over ranks and micro-batches."""
        per_step = world_size * self.micro_batch
        if self.data.global_batch % per_step:
            raise ConfigError(
                f"data.global_batch={self.data.global_batch} is not a multiple of world_size ({world_size}) x "
                f"micro_batch ({self.micro_batch}) = {per_step}: change one of them"
            )
        return self.data.global_batch // per_step


def load_lm_config(
    path: Path, phase: Phase | None = None, overrides: dict[str, Any] | None = None
) -> LMTrainConfig:
    """Read a YAML recipe; ``phase`` (from the subcommand) wins over the file's own ``phase``."""
    values = read_yaml_config(path, overrides)
    if phase is not None:
        values["phase"] = phase
    return build_config(LMTrainConfig, values, str(path))
