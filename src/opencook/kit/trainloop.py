"""The training loop both trainers run: resume, write the run directory, step, log, evaluate, checkpoint,
summarise, report. A trainer subclasses ``TrainLoop`` and keeps only its model-specific parts (torchtitan's
one ``Trainer`` with per-model parallelisation is the model): building model, parallelism, data and
optimizer, one train step, its metrics, evaluation and its checkpoint format.

The same loop runs on one process and under torchrun; only rank 0 writes files (``RunDir``), every rank
steps, evaluates and checkpoints (collectives inside the hooks stay in lock-step).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from opencook.kit.dist import barrier
from opencook.kit.progress import Progress
from opencook.kit.rundir import MetricsLog, RunDir


class TrainLoop:
    """Subclasses implement ``train_step``, ``save``, ``summarize`` and ``write_report``; the other hooks
    have do-nothing defaults. ``fit`` is the loop."""

    def __init__(self, out: str | Path) -> None:
        self.run = RunDir(out)
        self.step = 0
        self.metrics: MetricsLog | None = None  # open only inside fit(); log() is a no-op before it
        self.t_start = time.perf_counter()  # fit() resets it: the wall clock of this process's steps

    # -- hooks -----------------------------------------------------------------------------------
    def restore(self) -> dict[str, Any] | None:
        """Load the newest checkpoint (``self.run.latest_checkpoint()``) or an initialisation; return the
        ``resume`` record to log, or None for a fresh start."""
        return None

    def describe(self) -> dict[str, Any]:
        """Extra JSON files for the run directory, by file name (``{"model.json": {...}}``); written at the start
        and rewritten after every checkpoint and at the end, so positions in them (data consumed) stay current."""
        return {}

    def train_step(self) -> None:
        """One optimizer step; advances ``self.step``."""
        raise NotImplementedError

    def after_step(self, seconds: float) -> dict[str, str] | None:
        """Log what the step did (``seconds`` is its wall time); return what the progress line shows."""
        return None

    def evaluate(self) -> dict[str, Any] | None:
        return None

    def save(self) -> None:
        """Checkpoint ``self.step`` (collective) under ``self.run.checkpoints``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the steps hold (threads, handles) once the loop has ended."""

    def summarize(self, wall_s: float, first_step: int) -> dict[str, Any]:
        raise NotImplementedError

    def write_report(self, run_dir: Path) -> Path:
        raise NotImplementedError

    # -- the loop --------------------------------------------------------------------------------
    def log(self, record: dict[str, Any], to_tensorboard: bool = True) -> None:
        if self.metrics is not None:
            self.metrics.write(record, to_tensorboard)

    def fit(
        self,
        cfg: Any,
        *,
        stop_at: int,
        checkpoint_every: int,
        eval_every: int = 0,
        tensorboard: bool = False,
        desc: str = "train",
    ) -> dict[str, Any]:
        """Run (or resume) to step ``stop_at``: evaluate every ``eval_every`` steps and checkpoint every
        ``checkpoint_every`` steps (0: never), and always at ``stop_at``. Progress (``kit/progress.py``) shows a
        bar on a terminal and one line per ``cfg.log_every`` steps otherwise. Returns the summary."""
        try:
            return self._fit(cfg, stop_at=stop_at, checkpoint_every=checkpoint_every, eval_every=eval_every,
                             tensorboard=tensorboard, desc=desc)
        finally:
            self.run.release()  # the run directory's lock (taken by write_config), for the next run

    def _write_description(self) -> None:
        for name, data in self.describe().items():
            self.run.write_json(name, data)

    def _fit(self, cfg: Any, *, stop_at: int, checkpoint_every: int, eval_every: int, tensorboard: bool,
             desc: str) -> dict[str, Any]:
        resumed = self.restore()  # before writing anything: a refused resume leaves the run directory as it was
        self.run.write_config(cfg)
        self._write_description()
        barrier()
        self.metrics = self.run.open_metrics(self.step, tensorboard)
        if resumed:
            self.log(resumed, to_tensorboard=False)
        bar = Progress(stop_at, desc, "step", initial=self.step, every=getattr(cfg, "log_every", 0) or 0,
                       enabled=self.run.main)
        first_step = self.step
        self.t_start = t_start = time.perf_counter()
        while self.step < stop_at:
            t0 = time.perf_counter()
            self.train_step()
            postfix = self.after_step(time.perf_counter() - t0)
            bar.update(1, **(postfix or {}))
            last = self.step == stop_at
            if last or eval_every and self.step % eval_every == 0:
                self.evaluate()
            if last or checkpoint_every and self.step % checkpoint_every == 0:
                self.save()
                self._write_description()
        bar.close()
        wall_s = time.perf_counter() - t_start
        self.close()
        summary = self.summarize(wall_s, first_step)
        self.metrics.close()
        self.run.write_summary(summary)
        report = self.run.write_report(self.write_report)
        if report is not None:
            summary["report"] = str(report)
        barrier()
        return summary
