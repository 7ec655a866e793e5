"""Checkpoints with torch.distributed.checkpoint (DCP): every rank writes its own part, any world size reads.

Layout of ``<run>/checkpoints/step_00000100/``:
  DCP files (``.metadata``, ``*.distcp``)  ``{"model": ..., "optim": ...}`` under unwrapped parameter names
  ``trainer.json``   step, tokens seen, world size, the data position, the model config
  ``rng/rank<r>.pt`` each rank's torch / numpy / Python RNG state
  ``COMPLETE``       written last by rank 0 once every rank has finished

``get_state_dict`` / ``set_state_dict`` hide DDP and FSDP2, so a checkpoint written by two FSDP ranks loads
on one DDP rank (DCP reshards). The data position is not a tensor: the trainer checks it explicitly.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from opencook.kit.dist import barrier, rank, world_size
from opencook.kit.rundir import CHECKPOINTS, COMPLETE, commit_checkpoint, complete_checkpoints, step_dir_name
from opencook.lm.model import Llama, ModelConfig

FORMAT = 1

# One process without a process group is a supported layout here, not a mistake worth a warning.
warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked; the message says which and what to do."""


def resolve_checkpoint(path: str | Path) -> Path:
    """A step directory, or the newest complete one of a run directory or a ``checkpoints/`` directory."""
    path = Path(path)
    if (path / COMPLETE).is_file():
        return path
    for root in (path / CHECKPOINTS, path):
        found = complete_checkpoints(root)
        if found:
            return found[-1]
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    raise CheckpointError(f"{path} holds no complete checkpoint (a step_* directory with a COMPLETE marker)")


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save_checkpoint(
    root: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    trainer_state: dict[str, Any],
    keep: int,
) -> Path:
    """Collective. Writes to ``step_X.tmp`` and renames, so a kill mid-save never leaves a 'complete' fake."""
    this_rank, n_ranks = rank(), world_size()
    tmp = root / f"{step_dir_name(step)}.tmp"
    if this_rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "rng").mkdir(parents=True)
    barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(tmp))
    torch.save(_rng_state(), tmp / "rng" / f"rank{this_rank}.pt")
    barrier()
    if this_rank == 0:
        meta = {"format": FORMAT, "step": step, "world_size": n_ranks, **trainer_state}
        (tmp / "trainer.json").write_text(json.dumps(meta, indent=2) + "\n")
        commit_checkpoint(tmp, root, step, keep)
    barrier()
    return root / step_dir_name(step)


def read_trainer_state(ckpt: Path) -> dict[str, Any]:
    try:
        return json.loads((ckpt / "trainer.json").read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"{ckpt}/trainer.json is missing or unreadable ({exc}): the checkpoint is damaged; "
            "delete it to resume from the previous one"
        ) from exc


def load_checkpoint(
    ckpt: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> dict[str, Any]:
    """Load model (and optimizer, when given) in place on every rank; restore this rank's RNG when the world
    size matches the writer's. Returns ``trainer.json``."""
    state = read_trainer_state(ckpt)
    if optimizer is None:
        model_sd = get_model_state_dict(model)
        dcp.load({"model": model_sd}, checkpoint_id=str(ckpt))
        set_model_state_dict(model, model_sd)
        return state
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.load({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(ckpt))
    set_state_dict(model, optimizer, model_state_dict=model_sd, optim_state_dict=optim_sd)
    rng_file = ckpt / "rng" / f"rank{rank()}.pt"
    if state.get("world_size") == world_size() and rng_file.is_file():
        _set_rng_state(torch.load(rng_file, weights_only=False))
    return state


def model_config_of(ckpt: Path) -> ModelConfig:
    return ModelConfig(**read_trainer_state(ckpt)["model_config"])


def load_model_for_export(path: str | Path) -> tuple[Llama, dict[str, Any]]:
    """The model of a run (its newest checkpoint) or of one checkpoint, in one process, any writer world size.

    Returns the model and ``trainer.json`` (which names the run's ``tokenizer``)."""
    ckpt = resolve_checkpoint(path)
    state = read_trainer_state(ckpt)
    model = Llama(ModelConfig(**state["model_config"]))
    model_sd = get_model_state_dict(model, options=StateDictOptions())
    dcp.load({"model": model_sd}, checkpoint_id=str(ckpt))
    set_model_state_dict(model, model_sd)
    return model, state


def model_config_dict(cfg: ModelConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
