"""Pattern matching with the ``regex`` module (as the reference) plus a time-out.

The reference guards each signal with a 10 s alarm; some of its patterns backtrack badly on odd
inputs. We give each search a time-out instead; a time-out fails the signal like the alarm did.
"""

from __future__ import annotations

import regex

TIMEOUT_S = 2.0


def compile_(pattern: str, flags: int = 0) -> regex.Pattern:
    return regex.compile(pattern, flags)


def count(pattern: regex.Pattern, text: str) -> int:
    """Number of non-overlapping matches (what ``len(findall(...))`` gives)."""
    return sum(1 for _ in pattern.finditer(text, timeout=TIMEOUT_S))


def findall(pattern: regex.Pattern, text: str) -> list:
    return pattern.findall(text, timeout=TIMEOUT_S)
