"""The contract every pipeline step follows (data recipes and synth stages): four kinds, each a small base class.

- ``Source``: ``plan()`` cuts the inputs into picklable tasks (in the driver); ``read(task, stats)``
  turns one task into records (in a worker). Each task becomes one shard.
- ``Map``: ``process(records, stats)`` turns one shard's records into another's. ``Filter`` is the
  Map that only keeps or drops: a subclass says why in ``verdict(record)`` and the base does the
  counting, so every drop has a reason and the kept bytes are counted once, the same way.
- ``Global``: ``summarize`` each shard, ``decide`` once over all summaries (reading them from disk
  itself, so it may stay out of core), ``apply`` the decision shard by shard (the dedup stages).
- ``Sink``: ``write(records, out_dir, stats)`` turns every shard, in order, into the final dataset.

Each step class names its config dataclass in ``config_cls`` and is constructed with one
instance of it; a capability's registry maps a stage name to the class (``opencook.data.stages`` for
data recipes). A step is built in the process that runs it, so it must only hold its config (and caches).

A record is a plain ``dict`` (cheap to pickle to a worker and to turn into an Arrow
table). A step turns an iterator of records into another and reports every record it
drops to ``stats`` with a reason. A step never knows which executor runs it, how the
input was sharded, or where its output goes: whoever runs the list owns all of that (the data
pipeline's runner, ``opencook.data.runner``; a synth stage, ``opencook.synth.stage``). The fields of
a data pipeline record are in docs/schema.md; a synth stage's records are its own.

Randomness: a step that draws random numbers seeds a generator from its configured
seed and the record's ``id`` (never from shard order), so the verdicts do not depend on
worker count or sharding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opencook.kit.stats import StageStats

if TYPE_CHECKING:
    import pyarrow as pa

Record = dict[str, Any]


class Step:
    """What every kind shares: a registered ``name``, a ``kind`` and a typed config."""

    name: ClassVar[str]
    kind: ClassVar[str]
    config_cls: ClassVar[type]

    def __init__(self, config: Any = None) -> None:
        self.config = self.config_cls() if config is None else config

    def schema(self) -> pa.Schema | None:
        """The Arrow schema of this step's shards; ``None`` is the pipeline record schema (the rule).

        A step whose records are not pipeline records (the filter's per-file verdict rows) names its own.
        """
        return None


class Source(Step):
    kind: ClassVar[str] = "source"

    def plan(self) -> Sequence[Any]:
        """The tasks, in a stable order; each must be picklable and have a stable ``repr``."""
        raise NotImplementedError

    def read(self, task: Any, stats: StageStats) -> Iterator[Record]:
        raise NotImplementedError

    def fingerprint(self, task: Any) -> str | None:
        """What ``task`` reads as it is now (sizes, mtimes, hashes), so a rerun redoes a task whose input
        files changed; None when the task's ``repr`` says it all."""
        return None


class Map(Step):
    kind: ClassVar[str] = "map"

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        raise NotImplementedError


class Filter(Map):
    """A Map that keeps or drops each record unchanged; ``verdict`` is all a subclass writes.

    Kept records are counted by language with their bytes; dropped ones by reason with their bytes.
    ``self.stats`` is the shard's stats while ``verdict`` runs, for counters beyond keep/drop.
    """

    stats: StageStats

    def verdict(self, record: Record) -> str | None:
        """``None`` keeps the record; a string drops it and is the reason it is counted under."""
        raise NotImplementedError

    def dropped(self, record: Record, reason: str) -> None:
        """Called after each drop is counted, for a step that also logs which record went (datatrove's
        exclusion writer; synth's ``rejected.jsonl``). The default logs nothing: the counts are enough."""

    def signals(self, record: Record, reason: str) -> dict[str, Any]:
        """The values behind the last drop (the rule signals that fired), shown with the report's examples;
        called only for a drop kept as an example. Empty by default: the reason says it all."""
        return {}

    def _fired(self, record: Record, reason: str) -> dict[str, Any]:
        values = {k: v if v is None or isinstance(v, bool | int | float | str) else str(v)
                  for k, v in self.signals(record, reason).items()}  # JSON in the shard's marker
        return {"signals": values} if values else {}

    def nbytes(self, record: Record) -> int:
        """The bytes a verdict counts: the raw file size when ingest recorded it, else the text's."""
        nbytes = record.get("size_bytes")
        return len(record["text"].encode("utf-8", "surrogatepass")) if nbytes is None else nbytes

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        self.stats = stats
        for record in records:
            reason = self.verdict(record)
            if reason is None:
                stats.kept(record.get("language") or "unknown", self.nbytes(record))
                yield record
            else:
                stats.drop(reason, self.nbytes(record), record, lambda r=record, why=reason: self._fired(r, why))
                self.dropped(record, reason)


class Global(Step):
    kind: ClassVar[str] = "global"

    def summarize(self, records: Iterator[Record], stats: StageStats) -> pa.Table:
        """A small table per shard (no text, as a rule): what ``decide`` needs to see of every record."""
        raise NotImplementedError

    def decide(self, summaries: list[Path], stats: StageStats, workdir: Path) -> pa.Table:
        """One decision over every shard's summary file; ``workdir`` holds resumable scratch files."""
        raise NotImplementedError

    def apply(self, records: Iterator[Record], decision: pa.Table, stats: StageStats) -> Iterator[Record]:
        raise NotImplementedError


class Sink(Step):
    kind: ClassVar[str] = "sink"

    def write(self, records: Iterator[Record], out_dir: Path, stats: StageStats) -> list[Path]:
        """Write every record under ``out_dir``; returns the files written, in order."""
        raise NotImplementedError
