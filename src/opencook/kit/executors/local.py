"""A process pool on this machine that survives a killed worker by restarting the pool and resubmitting
unfinished tasks."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from opencook.kit.executors.base import WorkerLostError, progress_bar
from opencook.kit.executors.lifeline import die_with_driver
from opencook.kit.progress import Progress


class LocalExecutor:
    """A pool of ``workers`` processes; a worker killed mid-task costs a retry, not the run, and a killed
    driver takes its workers with it (``lifeline.py``).

    The pool is started on first use and kept for every later stage (starting one costs a
    fraction of a second per stage); ``close()`` or a ``with`` block shuts it down.
    """

    def __init__(self, workers: int = 2, max_retries: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.max_retries = max_retries
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], desc: str) -> Iterator[tuple[int, Any]]:
        pending = dict(enumerate(tasks))
        attempts = 0
        with progress_bar(len(tasks), desc) as bar:
            while pending:
                try:
                    yield from self._run_pool(fn, pending, bar)
                except BrokenProcessPool as exc:
                    if self._pool is not None:  # a broken pool runs nothing more; the next try starts anew
                        self._pool.shutdown(wait=False, cancel_futures=True)
                        self._pool = None
                    attempts += 1
                    if attempts > self.max_retries:
                        raise WorkerLostError(
                            f"{desc}: a worker process died {attempts} times ({exc}); "
                            "finished shards are kept, rerun the same command to resume"
                        ) from exc
                    bar.write(f"{desc}: a worker died; retrying {len(pending)} unfinished task(s)")

    def _run_pool(self, fn: Callable[[Any], Any], pending: dict[int, Any], bar: Progress) -> Iterator[tuple[int, Any]]:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                             initializer=_start_worker, initargs=(os.getpid(), dict(os.environ)))
        futures = {self._pool.submit(fn, task): i for i, task in pending.items()}
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures.pop(fut)
                    result = fut.result()
                    del pending[i]
                    bar.update()
                    yield i, result
        finally:
            for fut in futures:  # a task error or an interrupted caller: drop what has not started
                fut.cancel()


def _start_worker(driver_pid: int, environ: dict[str, str]) -> None:
    """A forkserver forks workers with the environment it had when it started (perhaps long before this
    pool): give them the driver's environment now, so credentials or endpoints set since then reach them."""
    os.environ.clear()
    os.environ.update(environ)
    die_with_driver(driver_pid)
