"""Shared helpers: line splitting, rounding and the fail-and-skip group runner of the reference."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

PRECISION = 8
Signal = float | bool | int | None

# A "line" in the reference is a newline-terminated piece (newline kept) or a non-empty tail.
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
# A line holding a non-whitespace character (``re``'s ``\\s`` is exactly ``str.isspace``).
_NONBLANK_LINE = re.compile(r"^[^\S\n]*\S[^\n]*\n?", re.MULTILINE)


_last: tuple[str | None, list[str]] = (None, [])  # the last text (by identity) and its lines


def nonempty_lines(text: str) -> list[str]:
    """Lines of ``text`` (with their newline) that hold something besides whitespace:
    ``[ln for ln in _LINE.findall(text) if ln.strip()]``, in one scan.

    The general and the language signals both ask for the lines of the same (cached) code
    string, so the last result is kept; callers must not modify the list.
    """
    global _last
    last_text, lines = _last  # one read, so a thread replacing it cannot mix two results
    if text is not last_text:
        lines = _NONBLANK_LINE.findall(text)
        _last = (text, lines)
    return lines


def ratio(count: float, total: int) -> float | None:
    """``count / total`` rounded like the reference, or None when there is nothing to divide by."""
    if total == 0:
        return None
    return round(count / total, PRECISION)


class SignalFailure(Exception):
    """Raised by a signal that cannot be computed (a regex time-out, a parser crash)."""


def run_group(steps: Sequence[tuple[str, Callable[[], Signal]]]) -> dict[str, Signal]:
    """Run signals in reference order; the first that raises gets None and so does every later one.

    The reference stores null for the failing signal and never computes the rest of the group;
    we report the skipped ones as None too so every row has the same keys.
    """
    out: dict[str, Signal] = {}
    failed = False
    for name, fn in steps:
        if failed:
            out[name] = None
            continue
        try:
            out[name] = fn()
        except Exception:  # noqa: BLE001 - mirrors the reference's catch-all
            out[name] = None
            failed = True
    return out
