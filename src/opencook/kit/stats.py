"""Per-stage counters that survive process boundaries and merge exactly.

Every step reports what it kept, what it dropped and why; shards write their own
counts next to their output so a resumed run reports the same totals as an
uninterrupted one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Dropped inputs kept per reason as examples for the report: the ones with the smallest key (a hash of the
#: record id or path), so the choice does not depend on sharding, order or worker count.
EXAMPLES_PER_REASON = 3
HEAD_LINES, HEAD_LINE_CHARS = 6, 160


def head(text: str) -> str:
    """The first lines of a document, each cut to a readable width, for an example row."""
    lines = text.splitlines()[:HEAD_LINES]
    return "\n".join(ln if len(ln) <= HEAD_LINE_CHARS else ln[: HEAD_LINE_CHARS - 1] + "…" for ln in lines)


def example_key(record_id: Any, path: Any) -> str:
    if isinstance(record_id, str) and record_id:
        return record_id
    return hashlib.sha1(str(path).encode("utf-8", "surrogatepass")).hexdigest()


def describe_record(record: dict[str, Any], nbytes: int) -> dict[str, Any]:
    """An example of a dropped record: where it came from, its size and its first lines."""
    path = "/".join(p for p in (record.get("repo"), record.get("path")) if p)
    text = record.get("text")
    out: dict[str, Any] = {"path": path, "size": record.get("size_bytes") or nbytes}
    if record.get("language"):
        out["language"] = record["language"]
    if isinstance(text, str):
        out["head"] = head(text)
    return out


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
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: When a list, every dropped record is appended as ``(record, reason)`` (the run's ``rejects``); not saved.
    rejects: list[tuple[dict[str, Any], str]] | None = field(default=None, compare=False, repr=False)

    def add(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def drop(self, reason: str, nbytes: int = 0, record: dict[str, Any] | None = None,
             example: dict[str, Any] | Callable[[], dict[str, Any]] | None = None) -> None:
        """Count a drop. ``record`` is the dropped record (an example, and a reject when they are kept);
        ``example`` describes an input that never became a record (``path``, ``size``, ``head``; a value may be a
        function, called only when the example is kept) or, as a dict or a function, adds to the record's
        (``signals``: the values that fired)."""
        self.dropped[reason] += 1
        self.dropped_bytes[reason] += nbytes
        if record is not None and self.rejects is not None:
            self.rejects.append((record, reason))
        if record is None and example is None:
            return
        if record is not None:
            key = example_key(record.get("id"), record.get("path"))
        else:
            key = example_key(None, example.get("path") if isinstance(example, dict) else None)
        kept = self.examples.setdefault(reason, [])
        if len(kept) >= EXAMPLES_PER_REASON and key >= kept[-1]["key"]:
            return
        extra = example() if callable(example) else dict(example or {})
        extra = {k: v() if callable(v) else v for k, v in extra.items()}  # a file's first lines, read only now
        extra = {k: v for k, v in extra.items() if v is not None}
        item = {"key": key, **(describe_record(record, nbytes) if record is not None else {}), **extra}
        self._keep_example(reason, item)

    def _keep_example(self, reason: str, item: dict[str, Any]) -> None:
        kept = self.examples.setdefault(reason, [])
        if any(e["key"] == item["key"] for e in kept):
            return
        kept.append(item)
        kept.sort(key=lambda e: e["key"])
        del kept[EXAMPLES_PER_REASON:]

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
        for reason, items in other.examples.items():
            for item in items:
                self._keep_example(reason, item)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "counters": dict(sorted(self.counters.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_bytes": dict(sorted(self.dropped_bytes.items())),
            "by_language": {k: dict(sorted(v.items())) for k, v in sorted(self.by_language.items())},
            **({"examples": dict(sorted(self.examples.items()))} if self.examples else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageStats:
        return cls(
            counters=Counter(d.get("counters", {})),
            dropped=Counter(d.get("dropped", {})),
            dropped_bytes=Counter(d.get("dropped_bytes", {})),
            by_language={k: Counter(v) for k, v in d.get("by_language", {}).items()},
            examples={k: [dict(e) for e in v if isinstance(e, dict) and "key" in e]
                      for k, v in (d.get("examples") or {}).items() if isinstance(v, list)},
        )
