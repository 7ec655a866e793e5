"""EvalPlus-format files (HumanEvalPlus.jsonl.gz / MbppPlus.jsonl): loaded from a path and their ``test``
field run as shipped, with and without a ``check`` function. The two records below follow EvalPlus's
layout (base_input/plus_input/atol, an ``assertion`` helper using numpy); expected outputs are by hand."""

from __future__ import annotations

import gzip
import json

import pytest

from opencook.benchmarks.problems import DatasetError, load_humaneval
from opencook.cli import main
from opencook.evals.protocol import Protocol
from opencook.evals.verify import verify
from opencook.sandbox import Limits

ASSERTION = '''import numpy as np

def assertion(out, exp, atol):
    if atol == 0:
        assert out == exp, f"out: {out}, exp: {exp}"
    else:
        assert np.allclose(out, exp, rtol=1e-07, atol=atol)
'''
HE_PLUS = {
    "task_id": "HumanEval/2",
    "prompt": 'def truncate_number(number: float) -> float:\n    """ Return the decimal part of number. """\n',
    "canonical_solution": "    return number % 1.0\n",
    "entry_point": "truncate_number",
    "base_input": [[3.5], [1.25]],
    "plus_input": [[1000000.75], [0.0]],
    "atol": 1e-6,
    "contract": "",
    "test": ASSERTION + '''
def check(candidate):
    inputs = [[3.5], [1.25], [1000000.75], [0.0]]
    results = [0.5, 0.25, 0.75, 0.0]
    for inp, exp in zip(inputs, results):
        assertion(candidate(*inp), exp, 1e-6)
''',
}
MBPP_PLUS = {  # MBPP+ tests call the function themselves: there is no check()
    "task_id": "Mbpp/2",
    "prompt": '"""\nWrite a function to find the shared elements from the given two lists.\n'
              'assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"""\n',
    "canonical_solution": "\ndef similar_elements(test_tup1, test_tup2):\n  return tuple(set(test_tup1) & set(test_tup2))\n",
    "entry_point": "similar_elements",
    "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]],
    "plus_input": [[[1, 2], [3]]],
    "atol": 0,
    "test": ASSERTION + '''
inputs = [[(3, 4, 5, 6), (5, 7, 4, 10)], [(1, 2), (3,)]]
results = [(4, 5), ()]
for inp, exp in zip(inputs, results):
    assertion(set(similar_elements(*inp)), set(exp), 0)
''',
}


@pytest.fixture
def plus_file(tmp_path):
    path = tmp_path / "Plus.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for row in (HE_PLUS, MBPP_PLUS):
            f.write(json.dumps(row) + "\n")
    return path


def test_load_and_run_test_field(plus_file):
    bench = load_humaneval(plus_file)
    assert bench.name == "evalplus" and [p.task_id for p in bench.problems] == ["HumanEval/2", "Mbpp/2"]
    assert bench.problems[0].extra["plus_input"] == [[1000000.75], [0.0]]
    limits = Limits(timeout_s=30.0)
    assert [o.passed for o in verify(bench, limits=limits)] == [True, True]
    wrong = verify(bench, limits=limits, codes=["    return number\n", "\ndef similar_elements(a, b):\n  return a\n"])
    assert [o.kind for o in wrong] == ["wrong_answer", "wrong_answer"]
    task = Protocol(bench, "base", "harness").tasks()[1]
    assert task.build_program(MBPP_PLUS["canonical_solution"]).rstrip().endswith("set(exp), 0)")  # no check() call


def test_missing_and_malformed_files(tmp_path, capsys):
    with pytest.raises(DatasetError, match="--dataset"):
        load_humaneval(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "x", "prompt": "p"}) + "\n")
    with pytest.raises(DatasetError, match=r"lacks field\(s\) \['test', 'entry_point'\]"):
        load_humaneval(bad)
    assert main(["eval", "verify", "humaneval", "--dataset", str(bad)]) == 2
    assert "lacks field" in capsys.readouterr().err


# --- HumanEval+ / MBPP+ with base and plus columns, per-input limits from the canonical solution's time ---

HE_ROWS = [
    {**HE_PLUS},
    {"task_id": "HumanEval/1", "prompt": "def add(a, b):\n    \"\"\"a + b\"\"\"\n", "canonical_solution": "    return a + b\n",
     "entry_point": "add", "base_input": [[1, 2], [3, 4]], "plus_input": [[10**20, 1], [-5, 5]], "atol": 0,
     "contract": "", "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"},
]
MBPP_ROWS = [
    {"task_id": "Mbpp/2", "prompt": MBPP_PLUS["prompt"], "code": MBPP_PLUS["canonical_solution"],
     "entry_point": "similar_elements", "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]],
     "plus_input": [[[1, 2], [3]], [[1, 2, 3], [3, 2]]], "atol": 0, "test_imports": [],
     "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))"],
     "test": MBPP_PLUS["test"], "source_file": "x"},
    {"task_id": "Mbpp/3", "prompt": '"""\nWrite a python function to identify non-prime numbers.\n'
                                    'assert is_not_prime(2) == False\n"""\n',
     "code": "import math\ndef is_not_prime(n):\n    return n < 2 or any(n % i == 0 for i in range(2, int(math.sqrt(n)) + 1))\n",
     "entry_point": "is_not_prime", "base_input": [[2], [10]], "plus_input": [[1], [97]], "atol": 0,
     "test_imports": [], "test_list": ["assert is_not_prime(2) == False"], "test": "", "source_file": "x"},
]


def _write(path, rows):
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


@pytest.fixture(scope="module")
def he_plus(tmp_path_factory):
    from opencook.benchmarks.evalplus import load_evalplus

    return load_evalplus(_write(tmp_path_factory.mktemp("ep") / "HumanEvalPlus.jsonl.gz", HE_ROWS))


@pytest.fixture(scope="module")
def mbpp_plus(tmp_path_factory):
    from opencook.benchmarks.evalplus import load_evalplus

    return load_evalplus(_write(tmp_path_factory.mktemp("ep") / "MbppPlus.jsonl.gz", MBPP_ROWS))


def test_evalplus_loader_names_and_text(he_plus, mbpp_plus):
    assert he_plus.name == "humaneval+" and mbpp_plus.name == "mbpp+"
    assert mbpp_plus.problems[1].prompt == "Write a python function to identify non-prime numbers."
    task = Protocol(mbpp_plus, "base").tasks()[1]  # OpenCodeEval's MBPP+ prompt: text, newline, first test
    assert task.prompt == "Write a python function to identify non-prime numbers.\nassert is_not_prime(2) == False\n"


def test_base_and_plus_columns_and_per_input_limits(he_plus, mbpp_plus):
    from opencook.evals import evalplus as ep

    truth = ep.ground_truth(he_plus)
    t = truth["HumanEval/1"]
    assert t.outputs == [3, 7, 10**20 + 1, 0] and len(t.seconds) == 4 and all(s >= 0 for s in t.seconds)
    assert ep.time_limits(t) == [max(ep.MIN_TIME_LIMIT_S, ep.GT_TIME_LIMIT_FACTOR * s) for s in t.seconds]
    codes = [
        HE_ROWS[0]["prompt"] + "    return number - int(number)\n",  # right on base, right on plus
        HE_ROWS[1]["prompt"] + "    return int(float(a) + float(b))\n",  # base right, plus wrong (10**20 + 1)
    ]
    rows = ep.check(he_plus, codes, truth, limits=Limits(timeout_s=30.0))
    assert [(r["base"], r["plus"]) for r in rows] == [(True, True), (True, False)]
    wrong = ep.check(he_plus, [codes[0], HE_ROWS[1]["prompt"] + "    return a - b\n"], truth)
    assert [(r["base"], r["plus"]) for r in wrong] == [(True, True), (False, False)]

    mtruth = ep.ground_truth(mbpp_plus)
    set_order = "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b), reverse=True))\n"
    off_by_one = "def is_not_prime(n):\n    return n != 2 and n != 97 and n != 1\n"  # base right, plus wrong on 1
    rows = ep.check(mbpp_plus, [set_order, off_by_one], mtruth)
    assert [(r["base"], r["plus"]) for r in rows] == [(True, True), (True, False)]


def test_a_slow_input_times_out_on_its_own_limit(he_plus):
    from opencook.evals import evalplus as ep

    truth = ep.ground_truth(he_plus)
    slow = HE_ROWS[1]["prompt"] + "    import time\n    if a == -5:\n        time.sleep(60)\n    return a + b\n"
    (_, row) = ep.check(he_plus, [HE_ROWS[0]["prompt"] + HE_ROWS[0]["canonical_solution"], slow], truth)
    assert (row["base"], row["plus"]) == (True, False) and "limit" in row["stderr_tail"]


class ScriptedModel:
    """A backend that answers each prompt from a table (a model whose outputs the test knows)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def run(self, batch, sampling):
        from opencook.completions.backends import Sample

        keys = batch.prompts or [c[-1]["content"] for c in batch.conversations]
        return [Sample(next(a for k, a in self.answers.items() if k in p), "stop") for p in keys]

    def record(self) -> dict:
        return {"type": "scripted", "model": None}


def test_evaluate_reports_base_and_plus_columns(he_plus, tmp_path):
    from opencook.completions.sampling import Sampling
    from opencook.evals.report import write_results
    from opencook.evals.run import evaluate

    model = ScriptedModel({"truncate_number": "    return number % 1.0\n",  # right everywhere
                           "def add": "    return int(float(a) + float(b))\n"})  # base right, plus wrong
    res = evaluate(he_plus, "base", model, Sampling(n=1, temperature=0.0, max_new_tokens=8), ks=[1])
    cols = res.record["scores"]["columns"]
    assert cols == {"base": {"pass@1": 1.0}, "plus": {"pass@1": 0.5}}
    assert res.record["protocol"]["name"] == "opencoder"
    assert res.record["sandbox"]["evalplus_time_limits"]["task_cap_s"] == 60.0
    assert [(s["base"], s["plus"]) for p in res.problems for s in p["samples"]] == [(True, True), (True, False)]
    summary = write_results(res, tmp_path)["summary"].read_text()
    assert "| pass@1 (base) | 100.00 |" in summary and "| pass@1 (plus) | 50.00 |" in summary
