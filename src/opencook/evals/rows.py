"""Run per-problem rows of sandboxed programs and read each one's verdict, rows kept apart.

Judged benchmarks (LiveCodeBench, BigCodeBench) run every sample of every problem in one sandbox batch,
then need the verdicts back in the problems' shape; this is that shape-keeping, written once."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def judge_rows(rows: Sequence[Sequence], limits, read_verdict: Callable[[object], dict], *, workers: int,
               progress: bool) -> list[list[dict]]:
    """``rows[i]`` are problem i's ``Program``s; returns ``read_verdict(outcome)`` plus ``duration_s`` for
    each, in the same shape."""
    from opencook.sandbox import run_programs

    programs = [p for row in rows for p in row]
    outcomes = iter(run_programs(programs, limits, workers=workers, progress=progress) if programs else ())
    return [[{**read_verdict(o), "duration_s": round(o.duration_s, 4)} for o in (next(outcomes) for _ in row)]
            for row in rows]
