"""One run directory for every trainer: what produced the run, its metrics, its checkpoints, its report.

Layout (the trainers add their own descriptions, e.g. ``model.json`` or ``dataset.json``):
  ``config.yaml``     the resolved config, every field with its default filled in
  ``versions.json``   interpreter, platform and package versions
  ``metrics.jsonl``   one JSON record per line, each with a ``kind`` and a ``step``
  ``checkpoints/step_XXXXXXXX/``  complete once it holds a ``COMPLETE`` marker
  ``summary.json``    the final figures, written when the run ends
  ``report.html``     a self-contained page rendered from the files above

Only rank 0 writes files here; every rank may read them. Checkpoint contents are the trainer's own
(each rank writes its part); this module only names, finds and commits them.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from opencook.kit.config import to_plain
from opencook.kit.dist import rank
from opencook.kit.versions import collect_versions

CHECKPOINTS = "checkpoints"
LEGACY_CHECKPOINTS = "ckpt"  # where xc runs wrote checkpoints before both trainers shared this module
COMPLETE = "COMPLETE"


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def complete_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first (a directory without ``COMPLETE`` is a crash's leftover)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step_*") if p.is_dir() and (p / COMPLETE).is_file())


def commit_checkpoint(tmp: Path, root: Path, step: int, keep: int) -> Path:
    """Rank 0, after every rank has written into ``tmp``: mark it complete, move it to its step name, and
    delete all but the newest ``keep``. The rename comes last, so a kill mid-save never leaves a 'complete' fake."""
    final = root / step_dir_name(step)
    (tmp / COMPLETE).write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def peak_memory_mib(device: Any) -> float:
    """Peak allocated CUDA memory on a GPU device, else this process's peak resident set (CPU RSS)."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


def truncate_after(path: Path, step: int) -> None:
    """Drop records past ``step`` (written by a run that crashed after its last checkpoint) and a torn last
    line, so a resumed run's file reads as if it had never stopped: no step appears twice."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line from the crash
        if isinstance(rec, dict) and rec.get("step", 0) <= step:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept))


class MetricsLog:
    """Appends JSON lines to ``metrics.jsonl``; mirrors numbers to TensorBoard (``tb/``) when asked and
    importable. Disabled (every call a no-op) on ranks other than 0."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool = False) -> None:
        self.enabled = enabled
        self.path = out / "metrics.jsonl"
        self._file = self.path.open("a", encoding="utf-8") if enabled else None
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                print("tensorboard is not installed; metrics go to metrics.jsonl only", file=sys.stderr)
            else:
                self._tb = SummaryWriter(str(out / "tb"))

    def write(self, record: dict[str, Any], to_tensorboard: bool = True) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None and to_tensorboard:
            step = record.get("step", 0)
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                    self._tb.add_scalar(f"{record.get('kind', 'train')}/{key}", value, step)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


class RunDir:
    """A training run's directory. ``main`` (default: this is rank 0) decides who writes."""

    def __init__(self, path: str | Path, main: bool | None = None) -> None:
        self.path = Path(path)
        self._main = main

    @property
    def main(self) -> bool:
        """Asked at each write, so a RunDir made before the process group exists still knows its rank."""
        return rank() == 0 if self._main is None else self._main

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def checkpoint_dirs(self) -> list[Path]:
        """Complete checkpoints, oldest first; a run from before the shared layout is found under ``ckpt/``."""
        return complete_checkpoints(self.checkpoints) or complete_checkpoints(self.path / LEGACY_CHECKPOINTS)

    def latest_checkpoint(self) -> Path | None:
        found = self.checkpoint_dirs()
        return found[-1] if found else None

    def write_json(self, name: str, data: Any) -> None:
        if self.main:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(json.dumps(data, indent=2, default=str) + "\n")

    def write_config(self, cfg: Any) -> None:
        """``config.yaml`` (the resolved config) and ``versions.json``: what produced this run."""
        if self.main:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "config.yaml").write_text(yaml.safe_dump(to_plain(cfg), sort_keys=False))
        self.write_json("versions.json", collect_versions())

    def open_metrics(self, step: int, tensorboard: bool = False) -> MetricsLog:
        """The metrics log, continuing at ``step``: records a crashed run wrote past it are dropped first."""
        if self.main:
            self.path.mkdir(parents=True, exist_ok=True)
            truncate_after(self.path / "metrics.jsonl", step)
        return MetricsLog(self.path, self.main, tensorboard)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self.write_json("summary.json", summary)

    def write_report(self, write: Callable[[Path], Path]) -> Path | None:
        """Rank 0 renders the report; a bug in it must not fail a finished run, so it becomes a message."""
        if not self.main:
            return None
        try:
            return write(self.path)
        except Exception as exc:  # noqa: BLE001 -- the report is a view of files already written
            print(f"report not written: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return None
