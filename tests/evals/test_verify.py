"""The benchmarks' reference solutions through the real sandbox (one subprocess per program): the
published facts HumanEval 164/164, MBPP sanitized 427/427, MBPP full 972/974 (367 and 927 fail as
shipped), and a wrong answer scores 0.

The time limit here is 30 s, not the protocol's 3 s: these tests check verdicts, and MBPP task 123
(amicable numbers below 9999) needs ~2.5 s of CPU, more on a shared, loaded CI machine."""

from __future__ import annotations

import pytest

from mbpp_data import needs_mbpp
from opencook.benchmarks.problems import load_humaneval, load_mbpp
from opencook.evals.passk import summarize
from opencook.evals.verify import verify
from opencook.sandbox import Limits

LIMITS = Limits(timeout_s=30.0)
WORKERS = 4


def _failed(outcomes) -> dict[str, str]:
    return {o.id: o.kind for o in outcomes if not o.passed}


def test_humaneval_canonical_all_pass_and_wrong_answers_score_zero():
    bench = load_humaneval()
    right = verify(bench, limits=LIMITS, workers=WORKERS)
    assert len(right) == 164 and _failed(right) == {}
    wrong = verify(bench, limits=LIMITS, workers=WORKERS, codes=["    return None\n"] * len(bench.problems))
    kinds = summarize([[o.kind] for o in wrong], [1])
    assert kinds["pass_at_k"]["pass@1"] == 0.0
    assert kinds["kinds"].get("wrong_answer", 0) > 100  # mostly failed asserts, not crashes


@needs_mbpp
def test_mbpp_sanitized_canonical_all_pass():
    outcomes = verify(load_mbpp("sanitized"), limits=LIMITS, workers=WORKERS)
    assert len(outcomes) == 427 and _failed(outcomes) == {}


@needs_mbpp
@pytest.mark.slow
def test_mbpp_full_canonical_fails_exactly_367_and_927():
    bench = load_mbpp("full")
    outcomes = verify(bench, limits=LIMITS, workers=WORKERS)
    assert len(outcomes) == 974
    assert _failed(outcomes) == {"367": "exception", "927": "exception"}  # NameError: setup uses Node first
    # another task's reference code does not solve this one
    shifted = [bench.problems[(i + 1) % 40].canonical for i in range(40)]
    first40 = type(bench)(**{**bench.__dict__, "problems": bench.problems[:40]})
    assert not any(o.passed for o in verify(first40, limits=LIMITS, workers=WORKERS, codes=shifted))


def test_opencoder_assembly_keeps_reference_solutions_passing():
    """The opencoder extractor and prelude must not break correct code: first 20 HumanEval problems."""
    import dataclasses

    he = load_humaneval()
    small = dataclasses.replace(he, problems=he.problems[:20])
    outcomes = verify(small, limits=Limits(timeout_s=30.0), protocol="opencoder")
    assert len(outcomes) == 20 and all(o.passed for o in outcomes), [o.id for o in outcomes if not o.passed]
