"""A teacher stage as steps of the one step contract (``opencook.kit.step``): ``Ask`` → ``Parse`` →
``Decontaminate`` → ``Execute``. A record is ``{"id", "item"}``; ``Ask`` adds the reply (``text``,
``finish_reason``), ``Parse`` the ``candidate``.

Every drop is counted by reason in the stage's one ``SampleStats`` (the ``Filter`` base does it for the
filters) and logged with its fate for ``rejected.jsonl``; ``StageCounts.from_stats`` turns the reasons into
fates once. A custom check is one more ``SampleFilter`` in the list, its reasons prefixed by the fate they
belong to (``parse:``, ``decontam:``, ``tests:``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from opencook.benchmarks.decontam import DecontamConfig, DecontamIndex, shared_index
from opencook.kit.stats import StageStats
from opencook.kit.step import Filter, Map, Record
from opencook.sandbox import Limits, Program, run_programs
from opencook.synth.counts import fate_of
from opencook.synth.parse import ParseError
from opencook.synth.sample import Parser
from opencook.synth.teacher import Teacher


@dataclass
class SampleStats(StageStats):
    """One stage's counts (every step adds to the same one, so reasons keep the order samples met them),
    ``rejected`` (id, fate, reason of each drop, in order) and the teacher's stats once it has answered."""

    rejected: list[dict[str, str]] = field(default_factory=list)
    teacher: dict[str, Any] = field(default_factory=dict)

    def reject(self, record: Record, fate: str, reason: str) -> None:
        self.rejected.append({"id": record["id"], "fate": fate, "reason": reason})


class SampleFilter(Filter):
    """A ``Filter`` whose drops also go to ``rejected.jsonl`` with their fate; needs a ``SampleStats``."""

    stats: SampleStats

    def dropped(self, record: Record, reason: str) -> None:
        self.stats.reject(record, fate_of(reason), reason)


@dataclass
class AskConfig:
    """The teacher (with its own concurrency, rate limit and reply cache) and the journal it appends to."""

    teacher: Teacher
    journal: Path


class Ask(Map):
    """Items → answered items, all asked in one ``Teacher.run`` (it keeps its own concurrency, cache and
    journal). An item the teacher failed on leaves here as a teacher error: it was never generated."""

    name: ClassVar[str] = "ask"
    config_cls: ClassVar[type] = AskConfig
    config: AskConfig

    def process(self, records: Iterator[Record], stats: SampleStats) -> Iterator[Record]:
        records = list(records)
        teacher = self.config.teacher
        answers = teacher.run([(r["id"], r["item"].messages) for r in records], self.config.journal)
        stats.teacher = vars(teacher.stats).copy()
        for record in records:
            answer = answers[record["id"]]
            if answer.error is not None:
                stats.add("teacher_errors")
                stats.reject(record, "teacher_error", answer.error)
                continue
            stats.add("generated")
            stats.add("truncated", int(answer.finish_reason == "length"))
            yield {**record, "text": answer.text, "finish_reason": answer.finish_reason}


@dataclass
class ParseConfig:
    parse: Parser


class Parse(Map):
    """Reply → ``candidate``; a reply the parser rejects (or crashes on: odd output must not lose the whole
    stage) is dropped as ``parse:<reason>``."""

    name: ClassVar[str] = "parse"
    config_cls: ClassVar[type] = ParseConfig
    config: ParseConfig

    def process(self, records: Iterator[Record], stats: SampleStats) -> Iterator[Record]:
        for record in records:
            try:
                candidate = self.config.parse(record["item"], record["text"], record["finish_reason"])
            except ParseError as exc:
                reason = f"parse:{exc.reason}"
            except Exception as exc:  # noqa: BLE001 - a parser bug on odd output must not lose the whole stage
                reason = f"parse:error:{type(exc).__name__}"
            else:
                yield {**record, "candidate": candidate}
                continue
            stats.drop(reason, len(record["text"].encode("utf-8", "surrogatepass")))
            stats.reject(record, fate_of(reason), reason)


class Decontaminate(SampleFilter):
    """Drop a candidate whose text overlaps HumanEval/MBPP (``decontam:<benchmark>:<rule>``); the index is
    built once per process, before the teacher is asked, so a missing benchmark costs no request."""

    name: ClassVar[str] = "decontaminate"
    config_cls: ClassVar[type] = DecontamConfig
    config: DecontamConfig
    _index: DecontamIndex

    def process(self, records: Iterator[Record], stats: SampleStats) -> Iterator[Record]:
        self._index = shared_index(self.config)
        return super().process(records, stats)

    def verdict(self, record: Record) -> str | None:
        hit = self._index.match(record["candidate"].text)
        return None if hit is None else f"decontam:{hit.reason}"


@dataclass
class ExecuteConfig:
    """Sandbox limits per program and the sandbox's worker processes."""

    timeout_s: float = 5.0
    memory_mb: int = 512
    workers: int = 2


class Execute(SampleFilter):
    """Keep a candidate whose program passes in the sandbox (one without a program is kept as is); drop the
    rest as ``tests:<outcome>``. All programs go to ONE ``run_programs`` call: the sandbox hands out its uid
    slots within that call, so two calls must never run at once in one process."""

    name: ClassVar[str] = "execute"
    config_cls: ClassVar[type] = ExecuteConfig
    config: ExecuteConfig

    def process(self, records: Iterator[Record], stats: SampleStats) -> Iterator[Record]:
        records = list(records)
        to_run = [r for r in records if r["candidate"].program is not None]
        limits = Limits(timeout_s=self.config.timeout_s, memory_mb=self.config.memory_mb)
        programs = [Program(r["id"], r["candidate"].program) for r in to_run]
        outcomes = run_programs(programs, limits, workers=self.config.workers, progress=True) if programs else []
        self._outcomes = {r["id"]: o for r, o in zip(to_run, outcomes, strict=True)}
        yield from super().process(iter(records), stats)

    def verdict(self, record: Record) -> str | None:
        outcome = self._outcomes.get(record["id"])
        return None if outcome is None or outcome.passed else f"tests:{outcome.kind}"
