"""Run a slow regex only on the lines that contain a fast-to-find anchor.

CPython's ``re`` is fast (hundreds of MB/s) only when a pattern starts with a literal; a pattern
that starts with a lookbehind, a character class or a case-insensitive alternation runs at 2-20
MB/s. So each detector first finds its anchors (``str.find`` for literals, or a literal-first
regex), then runs the full pattern over just the lines holding them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

Span = tuple[int, int]


def _line_span(text: str, i: int) -> Span:
    end = text.find("\n", i)
    return text.rfind("\n", 0, i) + 1, len(text) if end < 0 else end


def lines_with(text: str, needles: Iterable[str]) -> list[Span]:
    """Sorted, disjoint (start, end) spans of the lines containing any of ``needles``."""
    spans: dict[int, int] = {}
    for needle in needles:
        i = text.find(needle)
        while i >= 0:
            start, end = _line_span(text, i)
            spans[start] = end
            i = text.find(needle, end)
    return sorted(spans.items())


def lines_matching(text: str, anchor: re.Pattern[str]) -> list[Span]:
    """Sorted, disjoint spans of the lines holding a match of ``anchor`` (a literal-first regex)."""
    spans: dict[int, int] = {}
    pos = 0
    while (m := anchor.search(text, pos)) is not None:
        start, end = _line_span(text, m.start())
        spans[start] = end
        pos = end + 1
    return sorted(spans.items())


def sub_in_spans(
    pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str], text: str, spans: list[Span]
) -> str:
    """Like ``pattern.sub(repl, text)`` but searching only inside ``spans`` (sorted, disjoint)."""
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        for m in pattern.finditer(text, start, end):
            new = repl(m)
            if new != m.group(0):
                pieces.append(text[last : m.start()])
                pieces.append(new)
                last = m.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)
