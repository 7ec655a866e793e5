"""The shared shape of every teacher stage: ask → parse → decontaminate → execute → keep, counting each
sample's fate (``counts.py``). Stage modules only supply prompts, a parser and the output format."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opencook.benchmarks.decontam import DecontamConfig, DecontamIndex, shared_index
from opencook.sandbox import Limits, Program, run_programs
from opencook.synth.counts import StageCounts
from opencook.synth.parse import ParseError
from opencook.synth.teacher import Teacher

Messages = list[dict[str, str]]


@dataclass
class RunConfig:
    """What every stage shares: sandbox limits and workers, and decontamination (on by default, OpenCoder's
    10-gram and entry-point rules against HumanEval and MBPP)."""

    timeout_s: float = 5.0
    memory_mb: int = 512
    sandbox_workers: int = 2
    decontaminate: bool = True
    decontam: DecontamConfig = field(default_factory=DecontamConfig)


@dataclass
class Item:
    """One request to the teacher; ``seed`` travels to the output for provenance."""

    id: str
    messages: Messages
    seed: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """A parsed sample: ``program`` runs in the sandbox (None: nothing to run, kept as is); ``text`` is what
    decontamination checks; ``record`` becomes the output row."""

    item: Item
    program: str | None
    text: str
    record: dict[str, Any]


Parser = Callable[[Item, str, str], Candidate]


def item_id(stage: str, *parts: str) -> str:
    """A stable id from the content that made the request, so reruns match their journal."""
    return f"{stage}-{hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]}"


def seed_items(stage: str, prompt: str, system: str, seeds: list[dict]) -> list[Item]:
    """One item per seed: ``system`` plus ``prompt`` filled with the seed's text; the seed id travels along."""
    return [Item(item_id(stage, s["text"], prompt), [{"role": "system", "content": system},
                                                     {"role": "user", "content": prompt.format(seed=s["text"])}],
                 {"seed_id": s["id"]}) for s in seeds]


def run_stage(name: str, items: Sequence[Item], teacher: Teacher, out_dir: str | Path, parse: Parser,
              config: RunConfig | None = None) -> tuple[list[Candidate], StageCounts]:
    """Kept candidates in item order and the counts; ``out_dir`` receives ``teacher.jsonl`` (the journal),
    ``rejected.jsonl`` (id, fate, reason of each drop) and ``counts.json``."""
    config = config or RunConfig()
    out_dir = Path(out_dir)
    counts = StageCounts(name, requested=len(items))
    answers = teacher.run([(it.id, it.messages) for it in items], out_dir / "teacher.jsonl")
    rejected: list[dict] = []

    def drop(it: Item, fate: str, reason: str) -> None:
        counts.add(fate, reason)
        rejected.append({"id": it.id, "fate": fate, "reason": reason})

    index: DecontamIndex | None = shared_index(config.decontam) if config.decontaminate else None
    to_run: list[Candidate] = []
    kept_now: list[Candidate] = []
    for it in items:
        answer = answers[it.id]
        if answer.error is not None:
            counts.teacher_errors += 1
            rejected.append({"id": it.id, "fate": "teacher_error", "reason": answer.error})
            continue
        counts.generated += 1
        counts.truncated += answer.finish_reason == "length"
        try:
            cand = parse(it, answer.text, answer.finish_reason)
        except ParseError as exc:
            drop(it, "failed_to_parse", f"parse:{exc.reason}")
            continue
        except Exception as exc:  # noqa: BLE001 - a parser bug on odd output must not lose the whole stage
            drop(it, "failed_to_parse", f"parse:error:{type(exc).__name__}")
            continue
        hit = index.match(cand.text) if index is not None else None
        if hit is not None:
            drop(it, "contaminated", f"decontam:{hit.reason}")
            continue
        (to_run if cand.program is not None else kept_now).append(cand)
    limits = Limits(timeout_s=config.timeout_s, memory_mb=config.memory_mb)
    outcomes = run_programs([Program(c.item.id, c.program or "") for c in to_run], limits,
                            workers=config.sandbox_workers) if to_run else []
    passed = {c.item.id for c in kept_now}
    for cand, outcome in zip(to_run, outcomes, strict=True):
        if outcome.passed:
            passed.add(cand.item.id)
        elif outcome.kind == "timeout":
            drop(cand.item, "timeouts", "tests:timeout")
        else:
            drop(cand.item, "failed_tests", f"tests:{outcome.kind}")
    kept = [c for c in [*to_run, *kept_now] if c.item.id in passed]
    order = {it.id: i for i, it in enumerate(items)}
    kept.sort(key=lambda c: order[c.item.id])
    for _ in kept:
        counts.add("kept")
    counts.check()
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "rejected.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rejected)
    stats = teacher.stats
    (out_dir / "counts.json").write_text(json.dumps({**counts.as_dict(), "teacher": vars(stats).copy()}, indent=2))
    return kept, counts
