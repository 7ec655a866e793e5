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
class SwitchSection:
    """From optimizer step ``step`` on, train at ``seq_len`` x ``global_batch`` (and ``micro_batch`` rows per
    forward, when given): OpenCoder-8B's 4096 -> 8192 context switch. The data position is in tokens, so the
    stream continues where it was."""

    step: int
    seq_len: int
    global_batch: int
    micro_batch: int | None = None


@dataclass(frozen=True)
class DataSection:
    """Pretrain/anneal read ``sources`` (packed, weighted); SFT reads one ``sft`` directory
    (``opencook lm data sft``). ``global_batch`` is in sequences, summed over ranks and micro-steps.

    ``switches`` change the sequence length and batch at given steps (pretrain/anneal). ``document_mask``
    makes packed documents attend only within themselves (block-diagonal causal attention, RoPE positions
    restarting at each document). ``holdout`` is the fraction of each source (its last tokens) kept out of
    training for validation loss."""

    sources: list[SourceSection] = field(default_factory=list)
    sft: str | None = None
    seq_len: int = 256
    global_batch: int = 16
    switches: list[SwitchSection] = field(default_factory=list)
    document_mask: bool = False
    holdout: float = 0.0


@dataclass(frozen=True)
class MemorySection:
    """What makes a large model fit. ``activation_checkpoint``: ``full`` keeps only each block's input and
    recomputes the block in backward; ``selective`` keeps matmul and attention outputs and recomputes the
    cheap elementwise ops (norms, SwiGLU, RoPE). ``param_dtype``/``reduce_dtype``: FSDP2's mixed precision
    (compute in ``param_dtype``, gradients reduced in ``reduce_dtype``, fp32 master weights and optimizer
    state). ``cpu_offload``: FSDP2 keeps sharded parameters, gradients and optimizer state in host memory."""

    activation_checkpoint: Literal["none", "full", "selective"] = "none"
    param_dtype: Literal["float32", "bfloat16"] = "float32"
    reduce_dtype: Literal["float32", "bfloat16"] = "float32"
    cpu_offload: bool = False


@dataclass(frozen=True)
class HumanEvalSection:
    """HumanEval pass@1 during training, at every ``eval_every`` step: greedy completions of the first
    ``problems`` problems (0 = off) of HumanEval (or the HumanEval-format file ``dataset``), at most
    ``max_new_tokens`` each, run in the sandbox (``timeout_s`` per program, ``workers`` at once). Base models
    get the completion protocol, SFT runs the chat one. The evaluation itself is ``opencook.evals``, handed to
    the trainer by the CLI."""

    problems: int = 0
    max_new_tokens: int = 256
    dataset: str | None = None
    timeout_s: float = 5.0
    workers: int = 2


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
    memory: MemorySection = field(default_factory=MemorySection)
    humaneval: HumanEvalSection = field(default_factory=HumanEvalSection)
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
    eval_every: int = 0
    eval_batches: int = 4
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
        self._check_switches()
        if not 0.0 <= self.data.holdout < 1.0:
            raise ValueError(f"data.holdout must be in [0, 1), got {self.data.holdout}")
        if self.eval_every < 0 or self.eval_batches < 1:
            raise ValueError("eval_every must be >= 0 (0 = never) and eval_batches >= 1")
        he = self.humaneval
        if he.problems < 0 or he.max_new_tokens < 1 or he.timeout_s <= 0 or he.workers < 1:
            raise ValueError("humaneval: problems must be >= 0 (0 = off), max_new_tokens and workers >= 1, "
                             "timeout_s > 0")
        if he.problems and not (self.eval_every and self.tokenizer):
            raise ValueError("humaneval.problems needs eval_every > 0 (when to evaluate) and tokenizer (to "
                             "encode the prompts)")
        if self.eval_every and not self.data.holdout and not he.problems:
            raise ValueError("eval_every needs data.holdout > 0 (a held-out share of each packed source to "
                             "validate on) or humaneval.problems > 0")
        if self.phase == "sft" and (self.data.holdout or self.data.document_mask):
            raise ValueError("data.holdout and data.document_mask apply to packed data (pretrain/anneal)")
        if self.memory.cpu_offload and self.parallel != "fsdp":
            raise ValueError("memory.cpu_offload needs parallel: fsdp (FSDP2 offloads the shards)")

    def _check_switches(self) -> None:
        switches = self.data.switches
        if not switches:
            return
        if self.phase == "sft":
            raise ValueError("data.switches applies to pretrain and anneal (packed data); SFT has one length")
        steps = [s.step for s in switches]
        if steps != sorted(set(steps)) or steps[0] < 1:
            raise ValueError(f"data.switches[].step must be >= 1 and strictly increasing, got {steps}")
        for i, s in enumerate(switches):
            if s.seq_len < 2 or s.global_batch < 1 or (s.micro_batch is not None and s.micro_batch < 1):
                raise ValueError(f"data.switches[{i}]: seq_len must be >= 2, global_batch and micro_batch >= 1")
        unit = self.data_unit
        bad = [n for n in self.seq_lens if unit % n]
        if bad:
            raise ValueError(f"every sequence length must divide the longest ({unit}); {bad} do not, so the "
                             "data could not continue in whole windows after a switch")

    @property
    def seq_lens(self) -> list[int]:
        return [self.data.seq_len, *(s.seq_len for s in self.data.switches)]

    @property
    def data_unit(self) -> int:
        """The block of tokens the data order permutes: the longest sequence length of the run."""
        return max(self.seq_lens)

    def layout_at(self, step: int) -> tuple[int, int, int]:
        """(seq_len, global_batch, micro_batch) of optimizer step ``step`` (0-based)."""
        layout = (self.data.seq_len, self.data.global_batch, self.micro_batch)
        for s in self.data.switches:
            if step >= s.step:
                layout = (s.seq_len, s.global_batch, s.micro_batch or layout[2])
        return layout

    def layouts(self) -> list[tuple[int, int, int, int]]:
        """(first step, seq_len, global_batch, micro_batch) of every phase of the run."""
        return [(0, *self.layout_at(0)), *((s.step, *self.layout_at(s.step)) for s in self.data.switches)]

    @property
    def schedule_kind(self) -> str:
        if self.schedule.kind != "auto":
            return self.schedule.kind
        return {"pretrain": "wsd", "anneal": "exp_decay", "sft": "cosine"}[self.phase]

    def grad_accum(self, world_size: int, step: int = 0) -> int:
        """Micro-steps per optimizer step; the global batch must split evenly over ranks and micro-batches
        (checked for every layout of the run; the value returned is the one at ``step``)."""
        if world_size < 1:
            raise ConfigError(f"the number of ranks must be >= 1, got {world_size}")
        for first, _, batch, micro in self.layouts():
            per_step = world_size * micro
            if batch % per_step:
                where = "data.global_batch" if first == 0 else f"data.switches (step {first}) global_batch"
                raise ConfigError(
                    f"{where}={batch} is not a multiple of world_size ({world_size}) x micro_batch ({micro}) = "
                    f"{per_step}: change one of them"
                )
        _, batch, micro = self.layout_at(step)
        return batch // (world_size * micro)


# relative paths in a recipe are relative to the recipe file (kit.config.resolve_paths)
PATH_KEYS = ("tokenizer", "init_from", "data.sft", "data.sources[].path")


def load_lm_config(
    path: Path, phase: Phase | None = None, overrides: dict[str, Any] | None = None
) -> LMTrainConfig:
    """Read a YAML recipe; ``phase`` (from the subcommand) wins over the file's own ``phase``."""
    values = read_yaml_config(path, overrides, PATH_KEYS)
    if phase is not None:
        values["phase"] = phase
    return build_config(LMTrainConfig, values, str(path))
