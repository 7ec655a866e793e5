"""MultiPL-E: a JSONL file in its format, written here for all ten languages, run through the sandbox with
a known-good and a known-bad completion per language."""

from __future__ import annotations

import json

import pytest

from opencook.benchmarks.multipl_e import LANGUAGES, load_multipl_e, program, sandbox_language
from opencook.benchmarks.problems import DatasetError
from opencook.sandbox import Limits, Program, run_programs

# HumanEval/53 ("add") as MultiPL-E renders it: language -> (prompt, tests, good completion, bad completion).
CS_USINGS = ("using System;\nusing System.Numerics;\nusing System.Diagnostics;\nusing System.Collections.Generic;\n"
             "using System.Linq;\nusing System.Text;\nusing System.Security.Cryptography;\n")
GO_TESTS = """func TestAdd(t *testing.T) {
  candidate := add
\ttype test struct {
\t\tactual   interface{}
\t\texpected interface{}
\t}
   tests := []test{
     { actual: candidate(0, 1), expected: 1 },
     { actual: candidate(5, 7), expected: 12 },
   }

\tfor i, tc := range tests {
\t\tt.Run(fmt.Sprintf("test num % d", i), func(t *testing.T) {
\t\t\tif fmt.Sprintf("%v", tc.actual) != fmt.Sprintf("%v", tc.expected) {
\t\t\t\tt.Errorf("expected '%s', got '%s'", tc.expected, tc.actual)
\t\t\t}
\t\t})
\t}
}
"""
ROWS = {
    "py": ('def add(x: int, y: int) -> int:\n    """Add two numbers x and y"""\n',
           "def check(candidate):\n    assert candidate(0, 1) == 1\n    assert candidate(5, 7) == 12\n\n"
           "def test_check():\n    check(add)\n\ntest_check()\n",
           "    return x + y\n", "    return x - y\n"),
    "cpp": ("#include<assert.h>\n#include<bits/stdc++.h>\n// Add two numbers x and y\nlong add(long x, long y) {\n",
            "}\nint main() {\n    auto candidate = add;\n    assert(candidate((0), (1)) == (1));\n"
            "    assert(candidate((5), (7)) == (12));\n}\n",
            "    return x + y;\n", "    return x - y;\n"),
    "java": ("import java.util.*;\nimport java.lang.reflect.*;\nimport org.javatuples.*;\nimport java.security.*;\n"
             "import java.math.*;\nimport java.io.*;\nimport java.util.stream.*;\nclass Problem {\n"
             "    // Add two numbers x and y\n    public static long add(long x, long y) {\n",
             "    }\n    public static void main(String[] args) {\n    assert(add((0l), (1l)) == (1l));\n"
             "    assert(add((5l), (7l)) == (12l));\n    }\n\n}\n",
             "        return x + y;\n", "        return x - y;\n"),
    "js": ("//Add two numbers x and y\nfunction add(x, y){\n",
           "\nconst assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = add;\n"
           "  assert.deepEqual(candidate(0, 1),1);\n  assert.deepEqual(candidate(5, 7),12);\n}\n\ntest();",
           "  return x + y;\n}\n", "  return x - y;\n}\n"),
    "ts": ("//Add two numbers x and y\nfunction add(x: number, y: number): number {\n",
           "declare var require: any;\nconst assert = require('node:assert');\n\nfunction test() {\n"
           "  let candidate = add;\n  assert.deepEqual(candidate(0, 1),1);\n  assert.deepEqual(candidate(5, 7),12);\n"
           "}\n\ntest();",
           "  return x + y;\n}\n", "  return x - y;\n}\n"),
    "go": ('package add_test\n\nimport (\n    "testing"\n    "fmt"\n)\n\n// Add two numbers x and y\n'
           "func add(x int, y int) int {\n",
           GO_TESTS, "    return x + y\n}\n", "    return x - y\n}\n"),
    "rs": ("/// Add two numbers x and y\nfn add(x: isize, y: isize) -> isize {\n",
           "\nfn main() {\n    let candidate = add;\n    assert_eq!(candidate(0, 1), 1);\n"
           "    assert_eq!(candidate(5, 7), 12);\n}\n",
           "    x + y\n}\n", "    x - y\n}\n"),
    "php": ("<?php\n// Add two numbers x and y\nfunction add($x, $y) {\n",
            "function candidate(...$args) {\n    return add(...$args);\n}\n\nfunction test(): void {\n"
            "    if (candidate(0, 1) !== 1) { throw new Exception(\"Test failed!\"); }\n"
            "    if (candidate(5, 7) !== 12) { throw new Exception(\"Test failed!\"); }\n}\n\ntest();",
            "    return $x + $y;\n}\n", "    return $x - $y;\n}\n"),
    "sh": ("#!/bin/bash\n# Add two numbers x and y\n#\n# $1 is an integer\n# $2 is an integer\nadd() {\n",
           "}\n\ncandidate() {\n    add \"$@\"\n}\n\nset -e\nrun_test() {\n"
           "    [[ $(candidate \"0\" \"1\") = \"1\" ]]\n    [[ $(candidate \"5\" \"7\") = \"12\" ]]\n}\n\nrun_test",
           "    echo $(( $1 + $2 ))\n", "    echo $(( $1 - $2 ))\n"),
    "cs": (CS_USINGS + "class Problem {\n    // Add two numbers x and y\n    public static long Add(long x, long y) {\n",
           "    }\n    public static void Main(string[] args) {\n    Debug.Assert(Add((0L), (1L)) == (1L));\n"
           "    Debug.Assert(Add((5L), (7L)) == (12L));\n    }\n\n}\n",
           "        return x + y;\n", "        return x - y;\n"),
}
STOP = {"py": ["\ndef", "\n#", "\nif", "\nclass"], "cpp": ["\n}"], "java": ["\n    }\n"], "js": ["\nfunction ", "\n/*"],
        "ts": ["\nfunction ", "\n/*"], "go": ["\nfunc", "struct", "\n// "], "rs": ["\n}"], "php": ["\nfunction"],
        "sh": ["\n}"], "cs": ["\n    }\n"]}


@pytest.fixture()
def dataset(tmp_path):
    path = tmp_path / "multipl_e_add.jsonl"
    with path.open("w") as f:
        for lang, (prompt, tests, _, _) in ROWS.items():
            f.write(json.dumps({"name": f"HumanEval_53_add_{lang}", "language": lang, "prompt": prompt,
                                "tests": tests, "stop_tokens": STOP[lang]}) + "\n")
    return path


def test_the_loader_reads_every_language(dataset):
    bench = load_multipl_e(dataset)
    assert bench.name == "multipl-e" and len(bench.problems) == len(LANGUAGES) == 10
    assert {p.extra["language"] for p in bench.problems} == set(LANGUAGES)
    cpp = load_multipl_e(dataset, language="cpp")
    (p,) = cpp.problems
    assert p.task_id == "HumanEval_53_add_cpp" and p.extra["stop_tokens"] == ("\n}",)
    assert program(p, "    return x + y;\n") == ROWS["cpp"][0] + "    return x + y;\n" + "\n" + ROWS["cpp"][1]
    assert len(bench.sha256) == 64


@pytest.mark.slow
def test_good_completions_pass_and_bad_ones_fail_in_every_language(dataset):
    bench = load_multipl_e(dataset)
    programs = []
    for p in bench.problems:
        _, _, good, bad = ROWS[p.extra["language"]]
        programs += [Program(f"{p.task_id}/good", program(p, good), sandbox_language(p)),
                     Program(f"{p.task_id}/bad", program(p, bad), sandbox_language(p))]
    outcomes = {o.id: o for o in run_programs(programs, Limits(timeout_s=20), workers=2)}
    for lang in LANGUAGES:
        good, bad = outcomes[f"HumanEval_53_add_{lang}/good"], outcomes[f"HumanEval_53_add_{lang}/bad"]
        assert good.passed, (lang, good.kind, good.stderr[-800:], good.stdout[-300:])
        assert not bad.passed, (lang, bad.kind, bad.stdout[-300:])


def test_bad_files_are_named_errors(tmp_path, dataset):
    with pytest.raises(DatasetError, match="does not exist"):
        load_multipl_e(tmp_path / "nope.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"name": "x", "language": "cpp", "prompt": ""}) + "\n")
    with pytest.raises(DatasetError, match=r"lacks field\(s\) \['tests', 'stop_tokens'\]"):
        load_multipl_e(broken)
    cobol = tmp_path / "cobol.jsonl"
    cobol.write_text(json.dumps({"name": "x", "language": "cobol", "prompt": "", "tests": "", "stop_tokens": []}) + "\n")
    with pytest.raises(DatasetError, match="language 'cobol'"):
        load_multipl_e(cobol)
    with pytest.raises(DatasetError, match="no rows in language 'lua'|not one the sandbox runs"):
        load_multipl_e(dataset, language="lua")
