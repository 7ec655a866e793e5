"""The ``decontaminate`` stage: drop records that overlap the evaluation sets (see ``opencook.benchmarks.decontam``).

Every drop is counted as ``decontaminate:<benchmark>:<rule>`` (``decontaminate:humaneval:ngram``,
``decontaminate:mbpp:entry_point``), so the run's stats.json and report say which benchmark each
removed record touched and by which rule. The counter ``decontam_task:<task id>`` says which problems
were hit. The index is built once per worker process, not per shard.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from opencook.benchmarks.decontam import DecontamConfig, DecontamIndex, shared_index
from opencook.data.step import Record
from opencook.kit.stats import StageStats

DecontaminateConfig = DecontamConfig


class Decontaminate:
    """Drop a record whose text shares a benchmark n-gram or defines a benchmark entry point."""

    name: ClassVar[str] = "decontaminate"

    def __init__(self, config: DecontamConfig | None = None) -> None:
        self.config = config or DecontamConfig()

    def index(self) -> DecontamIndex:
        return shared_index(self.config)

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        index = self.index()
        for record in records:
            text = record["text"]
            nbytes = record.get("size_bytes")
            if nbytes is None:
                nbytes = len(text.encode("utf-8", "surrogatepass"))
            hit = index.match(text)
            if hit is None:
                stats.kept(record.get("language") or "unknown", nbytes)
                yield record
            else:
                stats.drop(f"decontaminate:{hit.reason}", nbytes)
                stats.add(f"decontam_task:{hit.task_id}")
