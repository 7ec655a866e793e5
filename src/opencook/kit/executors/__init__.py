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
from opencook.kit.registry import Registry

__all__ = ["EXECUTORS", "Executor", "InProcessExecutor", "LocalExecutor", "WorkerLostError", "make_executor"]

EXECUTORS: Registry[Executor] = Registry("executor", {
    "inprocess": InProcessExecutor,
    "local": LocalExecutor,  # a process pool
    "ray": "opencook.kit.executors.ray:RayExecutor",  # imported only when asked for
})


def make_executor(name: str, workers: int, address: str | None = None) -> Executor:
    """An executor by its registered name; ``address`` (an existing cluster) is for ``ray`` only."""
    if address and name != "ray":
        raise ValueError(f"an address is only for the ray executor, not '{name}'")
    cls = EXECUTORS.get(name)
    return cls(workers=workers, address=address) if address else cls(workers=workers)
