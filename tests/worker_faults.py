"""Task functions for executor tests: real SIGKILLs of the worker process, no mocks.

Top-level in an importable module so every executor (process pool, Ray) can pickle them.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def square(x: int) -> int:
    return x * x


def die_once(job: tuple[int, str]) -> int:
    """Kill this worker process the first time task 3 runs; a flag file remembers it happened."""
    value, flag_dir = job
    flag = Path(flag_dir) / f"seen-{value}"
    if value == 3 and not flag.exists():
        flag.write_text("1")
        os.kill(os.getpid(), signal.SIGKILL)
    return value * 10


def always_die(_: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0
