"""Rendered prompts and extracted programs of both protocols, base and chat, pinned to a fixture file for a
few problems of HumanEval and MBPP; plus hand-written checks of the opencoder protocol against OpenCodeEval's
source (read at the commit docs/eval.md names), so a change to either protocol shows up as a diff here.

Regenerate after an intended change: OPENCOOK_REGEN_FIXTURES=1 pytest tests/evals/test_protocol_fixtures.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mbpp_data import needs_mbpp
from opencook.benchmarks.problems import load_humaneval, load_mbpp
from opencook.evals import opencoder as oc
from opencook.evals.protocol import Protocol

FIXTURE = Path(__file__).parent / "fixtures" / "protocols.json"
REPLIES = {  # one made-up model output per (benchmark, kind), chosen to exercise stops and extraction
    ("humaneval", "base"): "    return helper(numbers)\n\n\ndef helper(x):\n    return False\n\nprint(1)\n",
    ("humaneval", "chat"): "Sure:\n```python\nfrom typing import List\nimport os\n\ndef has_close_elements(numbers, "
                           "threshold):\n    return helper(numbers)\n\ndef helper(x):\n    return False\n\n"
                           "def unused():\n    return 1\n```\nDone.",
    ("mbpp", "base"): "def f(x):\n\treturn [x] * 2\n```\n\nYou are an expert",
    ("mbpp", "chat"): "```python\nimport re\nR = 3\ndef f(x):\n    return [x] * R\n\nprint(f(1))\n```\n",
}


def render() -> dict:
    he, mbpp = load_humaneval(), load_mbpp("full")
    out = {}
    for bench, picks in ((he, (0, 32)), (mbpp, (0, 1))):
        for name in ("opencoder", "harness"):
            for kind in ("base", "chat"):
                tasks = Protocol(bench, kind, name).tasks()
                reply = REPLIES[(bench.name, kind)]
                for i in picks:
                    t = tasks[i]
                    out[f"{bench.name}/{name}/{kind}/{t.task_id}"] = {
                        "prompt": t.prompt, "messages": list(t.messages) if t.messages else None,
                        "stop": list(t.stop), "code": t.extract(reply), "program": t.build_program(reply)}
    return out


@needs_mbpp
def test_rendered_prompts_and_programs_match_the_fixture():
    got = render()
    if os.environ.get("OPENCOOK_REGEN_FIXTURES"):
        FIXTURE.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    want = json.loads(FIXTURE.read_text())
    assert sorted(got) == sorted(want)
    for key in want:
        for field in want[key]:
            assert got[key][field] == want[key][field], f"{key} {field} changed"


def test_sanitize_keeps_what_the_entry_point_reaches():
    text = ("Here it is\n```python\nimport os\nfrom typing import List\nX = 2\ndef helper(a):\n    return a * X\n"
            "def f(a):\n    return helper(a)\ndef noreturn():\n    pass\ndef other():\n    return 0\n"
            "class K:\n    pass\nprint(f(1))\n```\ntrailing words")
    assert oc.sanitize(text, "f") == ("import os\nfrom typing import List\nX = 2\ndef helper(a):\n    return a * X\n"
                                      "def f(a):\n    return helper(a)")
    # without an entry point every definition stays; a function without a return never does
    assert oc.sanitize(text) == ("import os\nfrom typing import List\nX = 2\ndef helper(a):\n    return a * X\n"
                                 "def f(a):\n    return helper(a)\ndef other():\n    return 0\nclass K:\n    pass")
    assert oc.sanitize("no code here at all ```") == ""
    # a later definition replaces an earlier one in its first place
    assert oc.sanitize("def g():\n    return 1\nY = 1\ndef g():\n    return 2\n") == "def g():\n    return 2\nY = 1"


def test_longest_parsable_run_rules():
    assert oc.longest_parsable("a = (\nb = 1\nc = 2\n\n") == "b = 1\nc = 2"  # shortest run with the most lines
    assert oc.longest_parsable("x = 1\n)\ny = 2\n") == "x = 1"  # a tie goes to the first run
    many = "\n".join(f"v{i} = {i}" for i in range(150))
    assert oc.longest_parsable(many).count("\n") == 99  # only the first 100 lines are read


def test_refine():
    assert oc.refine("\r\n\tx = 1\r\ny = 2\r  \n\n") == "x = 1\ny = 2\n"


def test_humaneval_opencoder_by_hand():
    he = load_humaneval()
    p = he.problems[0]
    base, chat = Protocol(he, "base").tasks()[0], Protocol(he, "chat").tasks()[0]
    assert base.prompt == p.prompt.strip() + "\n"
    assert chat.messages[0]["content"] == ("Please provide a self-contained Python script that solves the following "
                                           "problem in a markdown code block:\n```python\n" + p.prompt.strip()
                                           + "\n\n```\n")
    assert base.stop == ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(",
                         "\n```\n", "\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")
    assert chat.stop == base.stop[:7]
    body = "    return False\n"
    program = base.build_program(body + "\ndef main(): pass")
    head = program.split("\n")[:15]
    assert head[0] == "import math" and head[-1] == "from collections import *"
    solution = p.prompt.strip().replace("\t", "    ") + "\n" + body.rstrip()  # unparse drops the blank line
    import ast

    assert ast.dump(ast.parse(base.extract(body))) == ast.dump(ast.parse(solution))
    assert program.endswith("\n" + p.test + "\ncheck(has_close_elements)")
    assert "\n" + p.prompt + "\n    pass\n\n" in program


@needs_mbpp
def test_mbpp_opencoder_by_hand():
    mbpp = load_mbpp("full")
    rows = {int(p.task_id): p for p in mbpp.problems}
    tasks = Protocol(mbpp, "base").tasks()
    assert [int(t.task_id) for t in tasks] == list(range(10, 510))

    def block(i, with_code):
        p = rows[i]
        out = ("You are an expert Python programmer, and here is your task:\n" + p.prompt.strip() + "\n"
               + "Your code should pass these tests:\n" + "\n".join(p.test_list) + "\n")
        code = p.canonical.replace("\t", "    ").replace("\r\n", "\n").strip() + "\n"
        return out + ("\n```python\n" + code + "\n```\n" if with_code else "\n```python\n")

    expected = "\n".join(block(i, True) for i in (1, 2, 3)) + "\n" + block(10, False)
    assert tasks[0].prompt == expected.strip() + "\n"
    chat = Protocol(mbpp, "chat").tasks()[0]
    assert chat.messages[0]["content"] == tasks[0].prompt
    # OpenCodeEval reads a base sample after its prompt: a short answer loses to shot 1's longer code
    assert "def min_cost" in tasks[0].extract("def small_nnum(l, n):\n    return sorted(l)[:n]\n")
    program = tasks[0].build_program("def small_nnum(l, n):\n    return sorted(l)[:n]\n")
    assert program.endswith("\n" + "\n".join(rows[10].test_list)) and program.startswith(oc.PRELUDE + "\n")


def test_unknown_protocol_name():
    with pytest.raises(ValueError, match="opencoder"):
        Protocol(load_humaneval(), "base", "lm-eval")
