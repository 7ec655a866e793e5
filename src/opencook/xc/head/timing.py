"""Where a training step's wall time goes: compute, exposed communication, and active-set selection.

Only time the main thread spends *blocked* counts as communication: a collective still in flight while
the backbone computes is hidden, which is the point of overlapping. A clock is passed in, not global:
each head owns one (or is given one), its collectives and the sparsify hook add to it, and the step
runner resets and reads it once per step -- so two heads in one process never mix their timings.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from opencook.kit.dist import is_distributed


class StepClock:
    """Seconds of one step by kind; ``reset`` at the step's start, ``split`` at its end."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.comm_s = 0.0  # main thread blocked in a collective
        self.selection_s = 0.0  # main thread computing or waiting for the active set (graph rebuilds too)
        self.selection_hidden_s = 0.0  # selection run on the side thread while the main thread computed
        self.last_grad_ready = 0.0  # when the backbone's last gradient was accumulated (DDP's tail starts)
        self.last_comm_end = 0.0

    @contextmanager
    def comm(self, group=None):
        if not is_distributed(group):  # one process: the collective is a no-op, nothing is waited for
            yield
            return
        t = time.perf_counter()
        try:
            yield
        finally:
            self.last_comm_end = time.perf_counter()
            self.comm_s += self.last_comm_end - t

    @contextmanager
    def selection(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.selection_s += time.perf_counter() - t

    def grad_ready(self, _param=None) -> None:
        self.last_grad_ready = time.perf_counter()

    def ddp_tail(self, backward_end: float) -> None:
        """Count DDP's wait for its last buckets: from the later of the last gradient and the last
        collective already counted (a blocking comm hook) to the end of backward."""
        if self.last_grad_ready:
            self.comm_s += max(backward_end - max(self.last_grad_ready, self.last_comm_end), 0.0)

    def split(self, step_s: float) -> dict[str, float]:
        """The step's milliseconds by kind; compute is what remains."""
        comm, sel = self.comm_s, self.selection_s
        return {"compute_ms": 1000 * max(step_s - comm - sel, 0.0), "comm_ms": 1000 * comm,
                "selection_ms": 1000 * sel, "selection_hidden_ms": 1000 * self.selection_hidden_s}

