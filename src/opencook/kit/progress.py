"""One progress rule for every long command: a bar on a terminal, one plain line per log window elsewhere.

A log file, ``make > log``, nohup, Slurm or CI never gets carriage-return bars and is never silent: when
stderr is not a terminal, ``Progress`` writes one line per window (``every`` units, or about every tenth
of the total and at least every ``interval_s`` seconds), each with the count, the fields the caller set
(loss, drops...), the rate and the ETA. ``--quiet`` calls ``silence()``.

The mode travels in the environment (``OPENCOOK_PROGRESS``), so torchrun ranks and worker processes
started by a command inherit it: ``auto`` (the default: bar on a terminal, lines otherwise), ``bar``,
``lines`` or ``off``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

MODE_ENV = "OPENCOOK_PROGRESS"
MODES = ("auto", "bar", "lines", "off")


def mode() -> str:
    """The progress mode from ``OPENCOOK_PROGRESS``; an unknown value means ``auto``."""
    value = os.environ.get(MODE_ENV, "auto").strip().lower()
    if value in ("0", "quiet", "none", "false"):
        return "off"
    if value in ("1", "true"):  # the old force-on switch: lines wherever there is no terminal
        return "auto"
    return value if value in MODES else "auto"


def silence() -> None:
    """``--quiet``: no progress from this process nor from the processes it starts."""
    os.environ[MODE_ENV] = "off"


def fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _fmt_field(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _fmt_rate(rate: float, unit: str) -> str:
    if not math.isfinite(rate) or rate <= 0:
        return f"? {unit}/s"
    if rate < 1:
        return f"{1 / rate:.3g} s/{unit}"
    return f"{rate:,.0f} {unit}/s" if rate >= 100 else f"{rate:.3g} {unit}/s"


class Progress:
    """Count ``update(n)`` units toward ``total`` (None: unknown) and show them by the rule above.

    ``every`` is the log window in units (a trainer's ``log_every``); 0 picks about a tenth of ``total``.
    ``gap_s`` keeps lines at least that many seconds apart (the last one always shows): a stage of many quick
    tasks then logs a few lines, not ten a second.
    ``enabled=False`` (a rank other than 0, a ``progress=False`` caller) shows nothing. A context manager.
    """

    def __init__(self, total: int | None, desc: str, unit: str = "it", *, initial: int = 0, every: int = 0,
                 interval_s: float = 30.0, gap_s: float = 0.0, enabled: bool = True,
                 stream: TextIO | None = None, leave: bool = True) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = self.initial = initial
        self.fields: dict[str, Any] = {}
        self.stream = stream if stream is not None else sys.stderr
        chosen = mode() if enabled else "off"
        if chosen == "auto":
            isatty = getattr(self.stream, "isatty", None)
            chosen = "bar" if isatty is not None and isatty() else "lines"
        self.mode = chosen
        self.every = every if every > 0 else max(1, math.ceil((total or 0) / 10)) if total else 0
        self.interval_s, self.gap_s = (0.0 if every > 0 else interval_s), gap_s  # a given window is the rule
        self.t0 = self._last_t = time.perf_counter()
        self._last_n = initial
        self._bar = None
        self._lock = threading.Lock()  # worker threads (a sandbox slot, a teacher request) update one count
        if chosen == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave,
                             dynamic_ncols=True, mininterval=0.5, file=self.stream)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set(self, **fields: Any) -> None:
        """What the next line or the bar shows beside the count (``loss=2.31``)."""
        self.fields.update(fields)
        if self._bar is not None:
            self._bar.set_postfix({k: _fmt_field(v) for k, v in self.fields.items()}, refresh=False)

    def update(self, n: int = 1, **fields: Any) -> None:
        with self._lock:
            if fields:
                self.set(**fields)
            self.n += n
            if self._bar is not None:
                self._bar.update(n)
            elif self.mode == "lines" and self._due():
                self._line()

    def write(self, message: str) -> None:
        """A message that does not break the bar (a retried task, a note)."""
        if self.mode == "off":
            return
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self.n != self._last_n:
            self._line()  # the last partial window
        self.mode = "off"

    def _due(self) -> bool:
        done = self.n - self.initial
        if self.total is not None and self.n >= self.total:
            return True
        if time.perf_counter() - self._last_t < self.gap_s:
            return False
        if self.every and done // self.every != (self._last_n - self.initial) // self.every:
            return True
        return bool(self.interval_s) and time.perf_counter() - self._last_t >= self.interval_s

    def _line(self) -> None:
        now = time.perf_counter()
        elapsed = now - self.t0
        done = self.n - self.initial
        rate = done / elapsed if elapsed > 0 else float("nan")
        count = f"{self.unit} {self.n:,}" + (f"/{self.total:,}" if self.total is not None else "")
        if self.total:
            count += f" ({100 * self.n / self.total:.0f}%)"
        parts = [f"{self.desc}: {count}"]
        parts += [f"{k} {_fmt_field(v)}" for k, v in self.fields.items()]
        tail = [_fmt_rate(rate, self.unit), f"elapsed {fmt_duration(elapsed)}"]
        if self.total is not None and self.n < self.total and rate > 0:
            tail.append(f"ETA {fmt_duration((self.total - self.n) / rate)}")
        print(" ".join(parts) + ", " + ", ".join(tail), file=self.stream, flush=True)
        self._last_t, self._last_n = now, self.n


def track(items: Iterable[T], total: int | None, desc: str, unit: str = "it", *, enabled: bool = True) -> Iterator[T]:
    """``items`` unchanged, counted by a ``Progress`` that closes when they run out (or the loop stops)."""
    with Progress(total, desc, unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update()
