"""Per-stage counters that survive process boundaries and merge exactly.

Every step reports what it kept, what it dropped and why; shards write their own
counts next to their output so a resumed run reports the same totals as an
uninterrupted one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageStats:
    """Counters for one stage on one shard (or merged over shards).

    - ``counters``: free-form named counts (``"in"``, ``"out"``, ``"pii.email"`` ...).
    - ``dropped``: reason -> number of records dropped for it.
    - ``dropped_bytes``: reason -> bytes of text dropped for it.
    - ``by_language``: language -> {"files": n, "bytes": n} of records *kept*.
    """

    counters: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    dropped_bytes: Counter = field(default_factory=Counter)
    by_language: dict[str, Counter] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def drop(self, reason: str, nbytes: int = 0) -> None:
        self.dropped[reason] += 1
        self.dropped_bytes[reason] += nbytes

    def kept(self, language: str, nbytes: int) -> None:
        c = self.by_language.setdefault(language, Counter())
        c["files"] += 1
        c["bytes"] += nbytes

    def merge(self, other: StageStats) -> StageStats:
        self.counters.update(other.counters)
        self.dropped.update(other.dropped)
        self.dropped_bytes.update(other.dropped_bytes)
        for lang, c in other.by_language.items():
            self.by_language.setdefault(lang, Counter()).update(c)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "counters": dict(sorted(self.counters.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_bytes": dict(sorted(self.dropped_bytes.items())),
            "by_language": {k: dict(sorted(v.items())) for k, v in sorted(self.by_language.items())},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageStats:
        return cls(
            counters=Counter(d.get("counters", {})),
            dropped=Counter(d.get("dropped", {})),
            dropped_bytes=Counter(d.get("dropped_bytes", {})),
            by_language={k: Counter(v) for k, v in d.get("by_language", {}).items()},
        )
