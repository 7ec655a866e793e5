"""URL patterns with ``%`` wildcards (SQL ``LIKE`` style, as the OpenCoder paper writes them).

``%stackoverflow.com/questions%`` matches any URL that contains ``stackoverflow.com/questions``;
``%`` stands for any run of characters (possibly none), everything else is literal, and matching is
case-insensitive. Many patterns compile into one regular expression, so matching a URL costs one scan.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit


def pattern_regex(pattern: str) -> str:
    """The regex source of one ``%`` pattern, anchored at both ends."""
    if not pattern or pattern.strip("%") == "":
        raise ValueError(f"URL pattern {pattern!r} matches everything: give a domain or path, e.g. '%example.com/docs%'")
    return "".join(".*" if part == "%" else re.escape(part) for part in re.split(r"(%)", pattern) if part)


class UrlPatterns:
    """A set of ``%`` patterns; ``match(url)`` returns the first pattern that matches, or ``None``."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns: list[str] = list(dict.fromkeys(patterns))
        if self.patterns:
            alternation = "|".join(f"(?P<p{i}>{pattern_regex(p)})" for i, p in enumerate(self.patterns))
            self._regex: re.Pattern[str] | None = re.compile(f"(?:{alternation})\\Z", re.IGNORECASE | re.DOTALL)
        else:
            self._regex = None

    def __len__(self) -> int:
        return len(self.patterns)

    def match(self, url: str) -> str | None:
        if self._regex is None:
            return None
        m = self._regex.match(url)
        if m is None:
            return None
        return self.patterns[int(m.lastgroup[1:])]  # type: ignore[index]


def first_segment(url: str) -> str:
    """The first path segment (``/questions/123`` -> ``questions``), ``""`` for the site root."""
    path = urlsplit(url if "//" in url else "//" + url).path
    return path.lstrip("/").split("/", 1)[0]


def derive_patterns(domain: str, urls: Sequence[str], recalled: Sequence[bool], share: float,
                    min_pages: int = 2) -> list[str]:
    """Patterns for one code domain: ``%domain/segment/%`` for each first path segment with at least
    ``min_pages`` pages of which more than ``share`` were recalled (``%domain/`` for the site root), so
    ``stackoverflow.com/questions`` qualifies while ``stackoverflow.com/users`` need not."""
    pages: Counter = Counter()
    hits: Counter = Counter()
    for url, hit in zip(urls, recalled, strict=True):
        seg = first_segment(url)
        pages[seg] += 1
        hits[seg] += bool(hit)
    good = sorted(s for s in pages if pages[s] >= min_pages and hits[s] / pages[s] > share)
    return [f"%{domain}/{seg}/%" if seg else f"%{domain}/" for seg in good]


def group_by_domain(domains: Sequence[str], recalled: Sequence[bool]) -> dict[str, tuple[int, int]]:
    """domain -> (pages, recalled pages)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d, hit in zip(domains, recalled, strict=True):
        c = out[d]
        c[0] += 1
        c[1] += bool(hit)
    return {d: (c[0], c[1]) for d, c in out.items()}
