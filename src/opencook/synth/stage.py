"""The shared shape of every teacher stage: a list of steps (``steps.py``: ask → parse → decontaminate →
execute) run on an executor, then the kept samples and every sample's fate (``counts.py``) written out.
Stage modules only supply items, a parser and the output format.

A stage is ONE executor task, and runs in this process by default (``InProcessExecutor``): the sandbox
hands out its uid slots within a process, so two stages' sandbox runs must never overlap in one process,
and the teacher keeps its own concurrency (its thread pool) and its live reply cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opencook.benchmarks.decontam import DecontamConfig
from opencook.kit.executors import Executor, InProcessExecutor
from opencook.kit.step import Map, Record
from opencook.synth.counts import StageCounts
from opencook.synth.sample import Candidate, Item, Parser
from opencook.synth.steps import (
    Ask,
    AskConfig,
    Decontaminate,
    Execute,
    ExecuteConfig,
    Parse,
    ParseConfig,
    SampleStats,
)
from opencook.synth.teacher import Teacher


@dataclass
class RunConfig:
    """What every stage shares: sandbox limits and workers, and decontamination (on by default, OpenCoder's
    10-gram and entry-point rules against HumanEval and MBPP)."""

    timeout_s: float = 5.0
    memory_mb: int = 512
    sandbox_workers: int = 2
    decontaminate: bool = True
    decontam: DecontamConfig = field(default_factory=DecontamConfig)


def stage_steps(teacher: Teacher, out_dir: str | Path, parse: Parser, config: RunConfig | None = None) -> list[Map]:
    """The steps of a teacher stage; the journal goes to ``out_dir/teacher.jsonl``."""
    config = config or RunConfig()
    steps: list[Map] = [Ask(AskConfig(teacher, Path(out_dir) / "teacher.jsonl")), Parse(ParseConfig(parse))]
    if config.decontaminate:
        steps.append(Decontaminate(config.decontam))
    steps.append(Execute(ExecuteConfig(config.timeout_s, config.memory_mb, config.sandbox_workers)))
    return steps


def run_stage(name: str, items: Sequence[Item], teacher: Teacher, out_dir: str | Path, parse: Parser,
              config: RunConfig | None = None) -> tuple[list[Candidate], StageCounts]:
    """Kept candidates in item order and the counts; ``out_dir`` receives ``teacher.jsonl`` (the journal),
    ``rejected.jsonl`` (id, fate, reason of each drop) and ``counts.json``."""
    return run_steps(name, items, stage_steps(teacher, out_dir, parse, config), out_dir)


def steps_task(task: tuple[list[Map], list[Record]]) -> tuple[list[Record], SampleStats]:
    """An executor task: the records through every step, in order, all counting into one ``SampleStats``."""
    steps, records = task
    stats = SampleStats()
    stream = iter(records)
    for step in steps:
        stream = step.process(stream, stats)
    return list(stream), stats


def run_steps(name: str, items: Sequence[Item], steps: Sequence[Map], out_dir: str | Path,
              executor: Executor | None = None) -> tuple[list[Candidate], StageCounts]:
    """``run_stage`` with any list of steps (``stage_steps`` plus a check of your own), as one task on
    ``executor`` (default: this process; another executor must be able to pickle the steps)."""
    out_dir = Path(out_dir)
    records = [{"id": it.id, "item": it} for it in items]
    executor = executor or InProcessExecutor()
    ((_, (kept, stats)),) = executor.map(steps_task, [(list(steps), records)], name)
    order = {it.id: i for i, it in enumerate(items)}
    kept.sort(key=lambda r: order[r["id"]])
    counts = StageCounts.from_stats(name, len(items), stats, kept=len(kept))
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "rejected.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in stats.rejected)
    (out_dir / "counts.json").write_text(json.dumps({**counts.as_dict(), "teacher": stats.teacher}, indent=2))
    return [r["candidate"] for r in kept], counts
