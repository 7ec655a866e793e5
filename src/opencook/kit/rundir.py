"""One run directory for every trainer: what produced the run, its metrics, its checkpoints, its report.

Layout (the trainers add their own descriptions, e.g. ``model.json`` or ``dataset.json``):
  ``config.yaml``     the resolved config, every field with its default filled in
  ``versions.json``   interpreter, platform and package versions
  ``metrics.jsonl``   one JSON record per line, each with a ``kind`` and a ``step``
  ``checkpoints/step_XXXXXXXX/``  complete once it holds a ``COMPLETE`` marker
  ``summary.json``    the final figures, written when the run ends
  ``report.html``     a self-contained page rendered from the files above
  ``.opencook-run.json``  the marker written when opencook created (or first claimed) the directory
  ``.opencook-lock``      locked (``flock``) by the process writing the run; the kernel drops it when that
                          process ends, so a killed run never leaves a stale lock

Only rank 0 writes files here; every rank may read them. Checkpoint contents are the trainer's own
(each rank writes its part); this module only names, finds and commits them.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import sys
import time
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
MARKER = ".opencook-run.json"
LOCK = ".opencook-lock"
LOCKED_ENV = "OPENCOOK_RUN_DIR_LOCKED"  # set for child processes (torchrun ranks) by the process holding the lock


class RunDirError(RuntimeError):
    """A directory a run may not write: someone else's files, another kind of run, or a run writing it now."""


def marker(path: Path) -> dict[str, Any] | None:
    """The marker of a directory opencook created, or None (no marker, or an unreadable one)."""
    try:
        info = json.loads((Path(path) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def claim(path: Path, kind: str, adopt: Callable[[Path], bool] | None = None) -> None:
    """Make ``path`` a run directory of ``kind``, or accept it as one: a new or empty folder gets the marker;
    a folder with a marker of ``kind`` is ours; a non-empty folder without one is adopted only when ``adopt``
    says it is a run from before markers, else refused, so a run never deletes or mixes with files it did
    not write."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is a file, not a directory: give --out a new or empty directory")
    found = marker(path)
    if found is not None:
        if found.get("kind") != kind:
            raise RunDirError(f"{path} is a {found.get('kind')} run directory, not a {kind} run: use another --out")
        return
    if path.is_dir():
        others = sorted(p.name for p in path.iterdir() if p.name != LOCK)
        if others and not (adopt is not None and adopt(path)):
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise RunDirError(
                f"{path} already holds files opencook did not write ({shown}); a run writes only into a new "
                "or empty directory or its own run directory: give --out another path"
            )
    path.mkdir(parents=True, exist_ok=True)
    info = {"kind": kind, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid()}
    tmp = path / f"{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(info, indent=1) + "\n")
    os.replace(tmp, path / MARKER)


class RunLock:
    """An exclusive ``flock`` on ``<dir>/.opencook-lock`` for as long as this process writes the run.

    Re-entrant within a process (a resumed in-process run, a trainer fitted twice); released by ``release``
    or, whatever happens, by the kernel when the process ends. A process that holds it exports
    ``OPENCOOK_RUN_DIR_LOCKED`` so its children (torchrun ranks) write under their parent's lock.
    """

    _held: dict[str, tuple[int, int]] = {}  # real path -> (fd, count), per process

    def __init__(self, path: Path) -> None:
        self.key = os.path.realpath(path)
        self.released = False
        if self.key in RunLock._held:
            fd, count = RunLock._held[self.key]
            RunLock._held[self.key] = (fd, count + 1)
            return
        if os.environ.get(LOCKED_ENV) == self.key:
            RunLock._held[self.key] = (-1, 1)  # a parent process holds it for us
            return
        fd = os.open(os.path.join(self.key, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunDirError(
                f"{path} is being written by another run ({holder}); wait for it to finish or give --out "
                "another path"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:400]}\n".encode(), 0)
        RunLock._held[self.key] = (fd, 1)
        os.environ[LOCKED_ENV] = self.key

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        fd, count = RunLock._held.pop(self.key)
        if count > 1:
            RunLock._held[self.key] = (fd, count - 1)
            return
        if fd >= 0:
            os.close(fd)  # closing the only descriptor drops the flock
            if os.environ.get(LOCKED_ENV) == self.key:
                del os.environ[LOCKED_ENV]

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


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

    KIND = "train"

    def __init__(self, path: str | Path, main: bool | None = None) -> None:
        self.path = Path(path)
        self._main = main
        self._lock: RunLock | None = None

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

    def acquire(self) -> None:
        """Rank 0: mark the directory as a run's (a folder from before markers is adopted, since a trainer
        deletes nothing of its own outside ``checkpoints/``) and lock it until ``release``."""
        if self.main and self._lock is None:
            claim(self.path, self.KIND, adopt=lambda _: True)
            self._lock = RunLock(self.path)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def write_config(self, cfg: Any) -> None:
        """``config.yaml`` (the resolved config) and ``versions.json``: what produced this run. The first
        write: the directory is marked and locked first, so two runs into one ``--out`` fail clearly."""
        if self.main:
            self.acquire()
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
