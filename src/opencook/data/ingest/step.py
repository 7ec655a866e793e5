"""The ``ingest`` source stage: ``plan_ingest`` in the driver, ``read_task`` in the workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from opencook.data.ingest.config import IngestConfig, IngestTask
from opencook.data.ingest.fingerprint import task_fingerprint
from opencook.data.ingest.sources import plan_ingest, read_task
from opencook.kit.stats import StageStats
from opencook.kit.step import Record, Source


class Ingest(Source):
    name: ClassVar[str] = "ingest"
    config_cls: ClassVar[type] = IngestConfig
    config: IngestConfig

    def plan(self) -> list[IngestTask]:
        return plan_ingest(self.config)

    def read(self, task: IngestTask, stats: StageStats) -> Iterator[Record]:
        return read_task(task, self.config, stats)

    def fingerprint(self, task: IngestTask) -> str:
        return task_fingerprint(task, self.config)
