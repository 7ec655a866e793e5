"""Checkpoints that a different number of ranks can resume.

Layout of ``checkpoints/step_00000100/`` (runs written before ``opencook.kit.rundir`` used ``ckpt/``):
  ``meta.json``               step, world size, C, D and each old rank's class range
  ``head_<start>-<end>.safetensors``  rows [start, end) of W, of its row-shaped optimizer state and of the
                              head's other row state (``head.*``: feature centres)
  ``trainer.pt``              backbone + its optimizer, the head's scalar optimizer state, graph, step,
                              and ``extra`` (trainer-level state such as the LR plateau rule; absent in old ones)
  ``COMPLETE``                written last, by rank 0, after every rank has finished writing

Because shards are contiguous row ranges, a new rank reads exactly the slices of old shards that
overlap its range (safetensors reads slices without loading whole files). Partial FC's per-rank
checkpoints cannot be resharded (insightface #2027); these can.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from opencook.kit.dist import barrier, rank, world_size
from opencook.kit.rundir import commit_checkpoint, step_dir_name

FORMAT = 1


def _row_state(head, head_opt) -> dict[str, torch.Tensor]:
    """The head optimizer's tensors shaped like W's rows, by name (momentum, Adam moments, row steps)."""
    state = head_opt.state.get(head.weight, {})
    return {k: v for k, v in state.items() if torch.is_tensor(v) and v.dim() >= 1 and v.shape[0] == head.shard.size}


def save_checkpoint(root: Path, step: int, model, backbone_opt, head, head_opt, keep: int, group=None,
                    extra: dict | None = None, rank_state: dict | None = None) -> Path:
    """Collective: every rank writes its rows (and ``rank_state``, state that differs by rank), rank 0 the
    rest, then marks the directory complete."""
    tmp = root / f"{step_dir_name(step)}.tmp"
    if rank(group) == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier(group)
    s = head.shard
    row_state = _row_state(head, head_opt)
    tensors = {"weight": head.weight.detach().cpu().contiguous()}
    tensors.update({f"optim.{k}": v.detach().cpu().contiguous() for k, v in row_state.items()})
    tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in head.row_state().items()})
    save_file(tensors, str(tmp / f"head_{s.start:012d}-{s.end:012d}.safetensors"))
    if rank_state is not None:
        torch.save(rank_state, tmp / f"rank_{rank(group):05d}.pt")
    if rank(group) == 0:
        head_scalars = {k: v for k, v in head_opt.state.get(head.weight, {}).items() if k not in row_state}
        torch.save({
            "step": step,
            "backbone": model.state_dict(),
            "backbone_optim": backbone_opt.state_dict(),
            "head_optim_scalars": head_scalars,
            "head_extra": head.get_extra_state(),
            "extra": extra or {},
        }, tmp / "trainer.pt")
        meta = {"format": FORMAT, "step": step, "world_size": world_size(group), "num_classes": head.num_classes,
                "embedding_dim": head.embedding_dim, "mode": head.mode}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    barrier(group)
    if rank(group) == 0:
        commit_checkpoint(tmp, root, step, keep)
    barrier(group)
    return root / step_dir_name(step)


@dataclass(frozen=True)
class LoadedCheckpoint:
    path: Path
    step: int
    from_world_size: int
    extra: dict = field(default_factory=dict)  # trainer-level state; {} for checkpoints written before it existed

    def rank_states(self, only: int | None = None) -> list[dict]:
        """Every old rank's ``rank_state``, old-rank order, or just old rank ``only``'s (all a rank needs
        when the world size is unchanged); [] if the run saved none."""
        files = sorted(self.path.glob("rank_*.pt"))
        if files and len(files) != self.from_world_size:
            raise RuntimeError(f"{self.path}: {len(files)} rank state files for {self.from_world_size} ranks")
        if files and only is not None:
            files = [files[only]]
        return [torch.load(f, map_location="cpu", weights_only=True) for f in files]


def _read_rows(path: Path, start: int, end: int, num_classes: int) -> dict[str, torch.Tensor]:
    """Rows [start, end) of every row-shaped tensor, stitched from the old shards that overlap them."""
    pieces: dict[str, list[torch.Tensor]] = {}
    covered = start
    for f in sorted(path.glob("head_*.safetensors")):
        lo, hi = (int(x) for x in f.stem.removeprefix("head_").split("-"))
        a, b = max(lo, start), min(hi, end)
        if a >= b:
            continue
        if a != covered:
            raise RuntimeError(f"{path}: classes [{covered}, {a}) are in no shard file; the checkpoint is incomplete")
        with safe_open(str(f), framework="pt") as shard:
            for name in shard.keys():  # noqa: SIM118 -- safe_open has keys(), not iteration
                pieces.setdefault(name, []).append(shard.get_slice(name)[a - lo:b - lo])
        covered = b
    if covered != end:
        raise RuntimeError(f"{path}: classes [{covered}, {end}) of {num_classes} are in no shard file")
    return {name: torch.cat(parts) for name, parts in pieces.items()}


def load_checkpoint(path: Path, model, backbone_opt, head, head_opt) -> LoadedCheckpoint:
    """Load ``path`` into this rank's objects, whatever world size wrote it."""
    meta = json.loads((path / "meta.json").read_text())
    if meta.get("format") != FORMAT:
        raise RuntimeError(f"{path}: checkpoint format {meta.get('format')} is not {FORMAT}")
    if (meta["num_classes"], meta["embedding_dim"]) != (head.num_classes, head.embedding_dim):
        raise RuntimeError(f"{path} holds a head of {meta['num_classes']} classes x {meta['embedding_dim']} dims; "
                           f"this run has {head.num_classes} x {head.embedding_dim}")
    trainer = torch.load(path / "trainer.pt", map_location="cpu", weights_only=False)
    model.load_state_dict(trainer["backbone"])
    backbone_opt.load_state_dict(trainer["backbone_optim"])
    rows = _read_rows(path, head.shard.start, head.shard.end, head.num_classes)
    with torch.no_grad():
        head.weight.copy_(rows.pop("weight"))
    head.load_row_state({k.removeprefix("head."): rows.pop(k) for k in [k for k in rows if k.startswith("head.")]})
    state = {k.removeprefix("optim."): v.to(head.weight.device) for k, v in rows.items()}
    state.update(trainer["head_optim_scalars"])
    if state:
        head_opt.state[head.weight] = state
    head.set_extra_state(trainer["head_extra"])
    return LoadedCheckpoint(path, int(meta["step"]), int(meta["world_size"]), trainer.get("extra", {}))
