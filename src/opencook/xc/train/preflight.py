"""What can be checked before any rank starts, so a bad setting is one line from the launcher, not N tracebacks.

``load_train_config`` already refuses typos and values out of range (``lr < 0`` among them); here come the
checks that need the world size or the file system: the global and eval batches must split evenly over the
ranks, the run directory must not be a file, and a function-names task must name sources that exist.
"""

from __future__ import annotations

from pathlib import Path

from opencook.kit.config import ConfigError
from opencook.xc.train.config import TrainConfig


def check_before_launch(cfg: TrainConfig, world_size: int, out: Path) -> None:
    """Raise ``ConfigError`` naming the setting and the fix; cheap (no data is read)."""
    if world_size < 1:
        raise ConfigError(f"--nproc must be >= 1 (ranks to start), got {world_size}")
    for name in ("global_batch", "eval_batch"):
        value = getattr(cfg, name)
        if value % world_size:
            raise ConfigError(f"{name} {value} does not split evenly over {world_size} ranks: "
                              f"use a multiple of {world_size} (--set {name}=...)")
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"--out {out}: {parent} is a file, not a directory; choose another --out")
    if cfg.data.get("kind") == "funcnames":
        from opencook.xc.data import dataset_config
        from opencook.xc.data.funcnames_sources import resolve_roots

        try:
            resolve_roots(dataset_config(cfg.data, "data"))
        except ValueError as exc:
            raise ConfigError(f"data.sources: {exc}") from exc
