"""The ``recall_score`` stage: keep pages the code-text classifier scores at or above a threshold.

A page below the threshold is dropped as ``recall:below_threshold``. Every scored page is counted in a
score bin (``recall_score_bin:0.9`` holds scores in [0.9, 1.0)), so the run's stats show the score
distribution on both sides of the threshold. The score itself goes into the record's ``recall_score``
field when the pipeline schema has one. The classifier loads once per worker process.

``score_lines_on`` is the same scorer for the recall loop: already tokenised lines, cut into tasks for
any executor, each worker loading the round's saved classifier once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import ClassVar

from opencook.data.recall.classifier import CodeClassifier
from opencook.kit.executors import Executor
from opencook.kit.io.schema import FIELD_NAMES
from opencook.kit.stats import StageStats
from opencook.kit.step import Map, Record

SCORE_FIELD = "recall_score"
LINES_PER_TASK = 8192


@dataclass
class RecallScoreConfig:
    """``model``: a directory from ``CodeClassifier.save`` (each recall round writes one);
    ``tokenizer``: override the tokenizer path recorded with the model; ``batch``: pages per predict call."""

    model: str
    threshold: float = 0.5
    tokenizer: str | None = None
    batch: int = 256

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"recall_score threshold={self.threshold} must be in [0, 1]")
        if self.batch < 1:
            raise ValueError("recall_score batch must be >= 1")


def shared_classifier(model: str, tokenizer: str | None) -> CodeClassifier:
    """The classifier saved at ``model``, loaded once per process (again if the saved file changed)."""
    try:
        st = os.stat(os.path.join(model, "model.bin"))
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None  # CodeClassifier.load names the problem
    return _load_classifier(model, tokenizer, stamp)


@lru_cache(maxsize=4)
def _load_classifier(model: str, tokenizer: str | None, stamp: tuple[int, int] | None) -> CodeClassifier:
    return CodeClassifier.load(model, tokenizer)


def score_lines_task(job: tuple[str, str | None, list[str]]) -> list[float]:
    """An executor task: P(code) of tokenised lines with the classifier saved at ``job[0]``."""
    model, tokenizer, lines = job
    return shared_classifier(model, tokenizer).score_lines(lines)


def score_lines_on(executor: Executor, model: str, tokenizer: str | None, lines: Sequence[str]) -> list[float]:
    """P(code) of every line, in order, scored in tasks of ``LINES_PER_TASK`` lines on ``executor``."""
    tasks = [(model, tokenizer, list(lines[i : i + LINES_PER_TASK])) for i in range(0, len(lines), LINES_PER_TASK)]
    by_task = dict(executor.map(score_lines_task, tasks, "recall:score"))
    return [p for i in range(len(tasks)) for p in by_task[i]]


def score_bucket(p: float) -> int:
    """0..9: the tenth of [0, 1] that ``p`` falls in (1.0 goes with 0.9)."""
    return min(int(p * 10), 9)


def score_bin(p: float) -> str:
    return f"{score_bucket(p) / 10:.1f}"


def keep_scored(records: Iterator[Record], clf, threshold: float, batch: int, stats: StageStats) -> Iterator[Record]:
    """Score ``records`` in batches; keep those at or above ``threshold`` (the score written when the schema
    has its field), counting each score bin and every drop."""
    keep_field = SCORE_FIELD in FIELD_NAMES
    it = iter(records)
    while chunk := list(islice(it, batch)):
        for record, p in zip(chunk, clf.score([r["text"] for r in chunk]), strict=True):
            nbytes = record.get("size_bytes") or len(record["text"].encode("utf-8", "surrogatepass"))
            stats.add(f"recall_score_bin:{score_bin(p)}")
            if p < threshold:
                stats.drop("recall:below_threshold", nbytes)
                continue
            if keep_field:
                record[SCORE_FIELD] = round(p, 6)
            stats.kept(record.get("language") or "unknown", nbytes)
            yield record


class RecallScore(Map):
    name: ClassVar[str] = "recall_score"
    config_cls: ClassVar[type] = RecallScoreConfig
    config: RecallScoreConfig

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[Record]:
        clf = shared_classifier(self.config.model, self.config.tokenizer)
        yield from keep_scored(records, clf, self.config.threshold, self.config.batch, stats)
