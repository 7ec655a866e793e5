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
from opencook.kit.stats import StageStats
from opencook.kit.step import Filter, Record

DecontaminateConfig = DecontamConfig


class Decontaminate(Filter):
    """Drop a record whose text shares a benchmark n-gram or defines a benchmark entry point."""

    name: ClassVar[str] = "decontaminate"
    config_cls: ClassVar[type] = DecontamConfig
    config: DecontamConfig

    def index(self) -> DecontamIndex:
        return shared_index(self.config)

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        self._index = self.index()
        return super().process(records, stats)

    def verdict(self, record: Record) -> str | None:
        hit = self._index.match(record["text"])
        if hit is None:
            return None
        self.stats.add(f"decontam_task:{hit.task_id}")
        self._hit = hit
        return f"decontaminate:{hit.reason}"

    def signals(self, record: Record, reason: str) -> dict[str, str]:
        return {"task": self._hit.task_id, "evidence": self._hit.evidence}
