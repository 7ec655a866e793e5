"""Parsing of teacher replies: the asked format, and each way a teacher gets it wrong."""

from __future__ import annotations

import pytest

from opencook.synth.parse import ParseError, parse_exercise, parse_qa, parse_section, python_blocks

GOOD = """Problem:
Write a function `count_vowels(s)` that returns how many vowels a string contains.

Solution:
```python
def count_vowels(s):
    return sum(ch in "aeiou" for ch in s.lower())
```

Tests:
```python
assert count_vowels("hello") == 2
assert count_vowels("") == 0
```
"""


def _reason(fn, *args, **kw) -> str:
    with pytest.raises(ParseError) as info:
        fn(*args, **kw)
    return info.value.reason


def test_good_exercise():
    ex = parse_exercise(GOOD)
    assert ex.problem.startswith("Write a function `count_vowels(s)`") and "Problem" not in ex.problem
    assert ex.solution.startswith("def count_vowels(s):") and "assert" not in ex.solution
    assert ex.tests.splitlines() == ['assert count_vowels("hello") == 2', 'assert count_vowels("") == 0']


def test_markdown_headings_and_py_fences_are_accepted():
    reply = GOOD.replace("Problem:", "### Problem").replace("```python", "```py")
    assert parse_exercise(reply).problem.startswith("Write a function")


def test_no_code_block():
    assert _reason(parse_exercise, "Problem:\nCount vowels.\nSolution: use sum() over the characters.") == \
        "no_code_block"


def test_wrong_format_missing_tests_or_solution_or_problem():
    no_tests = GOOD[: GOOD.index("Tests:")]
    assert _reason(parse_exercise, no_tests) == "no_tests_block"
    only_tests = "Problem:\nSomething long enough to count.\n```python\nassert 1 + 1 == 2\n```"
    assert _reason(parse_exercise, only_tests) == "no_solution_block"
    assert _reason(parse_exercise, GOOD[GOOD.index("Solution:"):]) == "no_problem_text"
    broken = GOOD.replace("return sum(", "return sum((")
    assert _reason(parse_exercise, broken) == "syntax_error"


def test_endless_text_cut_by_max_tokens_is_truncated():
    endless = GOOD[: GOOD.index("Tests:")] + "Tests:\n```python\n" + "assert count_vowels('a') == 1\n" * 50
    assert _reason(parse_exercise, endless, "length") == "truncated"
    assert _reason(parse_exercise, endless, "stop") == "unclosed_code_block"
    rambling = "Problem: " + "and then " * 200
    assert _reason(parse_exercise, rambling, "length") == "truncated"


def test_non_python_blocks_are_ignored():
    assert _reason(python_blocks, "```bash\nls -la\n```") == "no_code_block"
    assert python_blocks("```js\nx\n```\n```python\nx = 1\n```") == ["x = 1"]


def test_qa():
    qa = parse_qa("Question: How do I pretty-print JSON?\nAnswer: Pass indent.\n"
                  "```python\nimport json\nassert json.dumps([1], indent=1) == '[\\n 1\\n]'\n```")
    assert qa.question == "How do I pretty-print JSON?" and qa.code.startswith("import json")
    assert _reason(parse_qa, "How do I pretty-print JSON? Use indent.") == "no_question_answer"
    assert _reason(parse_qa, "Question: How do I pretty-print JSON?\nAnswer: Pass indent=2.") == "no_code_block"
    assert parse_qa("Question: How do I pretty-print JSON?\nAnswer: Pass indent=2.", need_code=False).code == ""


def test_section_needs_prose_and_code():
    prose = "Binary search halves the interval each step. " * 4
    sec = parse_section(f"# Binary search\n\n{prose}\n```python\nassert sorted([2, 1]) == [1, 2]\n```")
    assert sec.code == "assert sorted([2, 1]) == [1, 2]"
    assert _reason(parse_section, "# Title\n```python\nx = 1\n```") == "too_little_prose"
