"""Worker processes die with their driver.

A pool worker waits on a queue whose write end it holds itself, so when the driver is SIGKILLed nothing
ever wakes it: the pool (hundreds of MB of imports) would live on, orphaned. Every worker therefore asks
the kernel to SIGKILL it when its parent dies (Linux ``PR_SET_PDEATHSIG``; the parent is the forkserver,
which exits when the driver's end of its pipe closes), and runs a watchdog thread that ends it once its
parent changes or the driver is gone (other systems, or a parent that died before the request was made).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 1.0


def _alive(pid: int) -> bool:
    """A zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True  # no /proc (macOS): kill(0) said it exists


def _watch(driver: int, parent: int) -> None:
    while os.getppid() == parent and _alive(driver):
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)  # no cleanup: the driver that would read any result is gone


def die_with_driver(driver: int) -> None:
    """Pool initializer: tie this worker's life to ``driver`` (the pid of the process that made the pool)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still ends it
    if os.getppid() != parent or not _alive(driver):
        os._exit(1)  # the parent died before the request above was in place
    threading.Thread(target=_watch, args=(driver, parent), name="opencook-lifeline", daemon=True).start()
