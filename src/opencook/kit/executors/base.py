"""What every executor is: ``map(fn, tasks, desc)`` yielding ``(task index, result)`` as tasks finish."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from opencook.kit.progress import Progress


class WorkerLostError(RuntimeError):
    """Workers kept dying on the same tasks; finished shards are kept, a rerun resumes."""


class Executor(Protocol):
    workers: int

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], desc: str) -> Iterator[tuple[int, Any]]:
        """Yield ``(task index, result)`` as tasks finish, in any order."""
        ...

    def close(self) -> None:
        """Release workers or a cluster connection the executor started; executors are context managers."""
        ...


def progress_bar(total: int, desc: str) -> Progress:
    """A stage's tasks: a bar on a terminal, otherwise a line about every tenth of them, at most one per 5 s, and
    always the last (``kit/progress.py``)."""
    return Progress(total, desc, "task", gap_s=5.0, leave=False)
