"""Executors run independent tasks; steps never know which one runs them.

An executor only has to map a picklable top-level function over picklable tasks. The
in-process executor is for tests and debugging; the local executor uses a process pool
and survives a killed worker by restarting the pool and resubmitting unfinished tasks.
A Ray executor plugs in with the same interface.
"""

from __future__ import annotations

from opencook.kit.executors.base import Executor, WorkerLostError
from opencook.kit.executors.inprocess import InProcessExecutor
from opencook.kit.executors.local import LocalExecutor

__all__ = ["Executor", "InProcessExecutor", "LocalExecutor", "WorkerLostError", "make_executor"]


def make_executor(name: str, workers: int, address: str | None = None) -> Executor:
    """``inprocess``, ``local`` (a process pool) or ``ray`` (``address``: an existing cluster)."""
    if address and name != "ray":
        raise ValueError(f"an address is only for the ray executor, not '{name}'")
    if name == "inprocess":
        return InProcessExecutor()
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        from opencook.kit.executors.ray import RayExecutor

        return RayExecutor(address=address, workers=workers)
    raise ValueError(f"unknown executor '{name}'; choose 'local', 'inprocess' or 'ray'")
