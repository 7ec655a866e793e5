"""Tasks one after another in this process: deterministic and easy to debug."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from opencook.kit.executors.base import progress_bar


class InProcessExecutor:
    """Runs tasks one after another in this process: deterministic and easy to debug."""

    workers = 1

    def __init__(self, workers: int = 1) -> None:
        """``workers`` is accepted so every executor is built alike; this one always uses one."""

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; every executor has ``close`` so callers need not ask."""

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], desc: str) -> Iterator[tuple[int, Any]]:
        with progress_bar(len(tasks), desc) as bar:
            for i, task in enumerate(tasks):
                yield i, fn(task)
                bar.update()
