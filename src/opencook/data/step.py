"""The contract every pipeline step follows.

A record is a plain ``dict`` (cheap to pickle to a worker and to turn into an Arrow
table). A step turns an iterator of records into another and reports every record it
drops to ``stats`` with a reason. A step never knows which executor runs it, how the
input was sharded, or where its output goes: the runner owns all of that.

Record fields written by ingest (see docs/schema.md):
    id           str   stable id: sha1 of "repo\\0path" (hex)
    repo         str   repository name ("" when unknown)
    path         str   path inside the repository, "/"-separated
    filename     str   base name with extension ("setup.py")
    ext          str   last extension without the dot, lower-case ("py"; "" if none)
    size_bytes   int   size of the raw file in bytes
    language     str   GitHub Linguist language name ("Python", "C++"), or "unknown"
    doc_type     str   "code" | "data" | "text"
    stars        int | None   repository stars (sidecar metadata)
    commit_time  int | None   latest commit, unix seconds (sidecar metadata)
    text         str   decoded content
Later steps may add fields (``sha256``, ``dup_count``); none removes one.

Randomness: a step that draws random numbers seeds a generator from its configured
seed and the record's ``id`` (never from shard order), so the verdicts do not depend on
worker count or sharding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

from opencook.kit.stats import StageStats

Record = dict[str, Any]


class Step(Protocol):
    """A per-record transformation: ``process`` may drop, change or pass records."""

    name: ClassVar[str]

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]: ...
