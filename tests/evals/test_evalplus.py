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
