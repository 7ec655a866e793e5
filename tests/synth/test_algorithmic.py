"""Selecting the algorithmic corpus: the paper's markers, each rule of the rule set, and the output schema."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from opencook.kit.io.schema import RECORD_SCHEMA
from opencook.synth.algorithmic import AlgorithmicConfig, rule_verdict, select_algorithmic
from opencook.synth.io import write_parquet

GOOD = '''"""Two-pointer search."""
import bisect


def pair_sum(xs, target):
    xs = sorted(xs)
    i, j = 0, len(xs) - 1
    while i < j:
        s = xs[i] + xs[j]
        if s == target:
            return xs[i], xs[j]
        if s < target:
            i += 1
        else:
            j -= 1
    return None
'''
FILES = {
    "marker_text": ("Text", "My notes on LeetCode problem 42."),
    "marker_cpp": ("C++", "class Solution {\npublic:\n  int f();\n};"),
    "good": ("Python", GOOD),
    "numpy": ("Python", "import numpy as np\n" + GOOD),
    "script": ("Python", GOOD + "\nprint(pair_sum([1, 2, 3], 5))\n"),
    "no_loops": ("Python", "def f(x):\n    return x\n\n\ndef g(y):\n    return y\n"),
    "broken": ("Python", GOOD.replace("return None", "return None)")),
    "short": ("Python", "x = 1\n"),
    "java": ("Java", "class A { void f() { for (;;) {} } }\n" * 3),
}


@pytest.fixture
def dataset(tmp_path):
    records = [{"id": k, "language": lang, "ext": "py" if lang == "Python" else "txt", "text": text}
               for k, (lang, text) in FILES.items()]
    write_parquet(records, tmp_path / "in")
    return tmp_path / "in"


def test_markers_and_rules(dataset, tmp_path):
    counts = select_algorithmic(dataset, tmp_path / "out")
    assert counts["in"] == len(FILES) and counts["kept"] == 3
    assert counts["reasons"] == {"marker:leetcode": 1, "marker:class solution": 1, "rules": 1,
                                 "third_party_imports": 1, "top_level_code": 1, "no_control_flow": 1,
                                 "does_not_parse": 1, "too_short": 1, "not_python": 1}
    table = pq.read_table(tmp_path / "out" / "dataset" / "part-00000.parquet")
    assert table.schema == RECORD_SCHEMA
    assert sorted(table.column("id").to_pylist()) == ["good", "marker_cpp", "marker_text"]


def test_rules_are_configurable(dataset, tmp_path):
    loose = AlgorithmicConfig(max_third_party_imports=1, self_contained=False)
    assert rule_verdict(FILES["numpy"][1], loose) is None and rule_verdict(FILES["script"][1], loose) is None
    counts = select_algorithmic(dataset, tmp_path / "out", AlgorithmicConfig(rules=False))
    assert counts["kept"] == 2 and counts["reasons"]["no_marker"] == len(FILES) - 2


def test_bad_config_and_input_are_explained(tmp_path):
    with pytest.raises(ValueError, match="selects nothing"):
        AlgorithmicConfig(markers=[], rules=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        select_algorithmic(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "no_text.jsonl").write_text('{"id": "a", "content": "def f(): pass"}\n')
    with pytest.raises(ValueError, match=r"no_text.jsonl:1: a record without a string 'text' field"):
        select_algorithmic(tmp_path / "no_text.jsonl", tmp_path / "out")
