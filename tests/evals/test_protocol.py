"""The protocols against codelm.md's text: stop strings, the MBPP 3-shot prompt byte for byte, chat code
extraction, and the programs the sandbox will run."""

from __future__ import annotations

import pytest

from mbpp_data import HAVE_MBPP, MBPP_DIR, needs_mbpp
from opencook.benchmarks.problems import load_humaneval, load_mbpp
from opencook.evals.protocol import Protocol, extract_code, truncate_at_stop

# Copied by hand from ../shared/docs/codelm.md ("Evaluation protocol"), not from the module under test.
SPEC_STOP = ["\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ", "\nif __name__", "\nprint("]
SPEC_MBPP = "You are an expert Python programmer, and here is your task:\n{text}Your code should pass these tests:\n{tests}\n"


@pytest.fixture(scope="module")
def humaneval():
    return load_humaneval()


@pytest.fixture(scope="module")
def mbpp_full():
    if not HAVE_MBPP:
        pytest.skip(f"MBPP data not at {MBPP_DIR}; set OPENCOOK_MBPP_DIR")
    return load_mbpp("full")


def test_humaneval_base_stop_strings_cut(humaneval):
    task = Protocol(humaneval, "base", "harness").tasks()[0]
    assert task.prompt == humaneval.problems[0].prompt and task.messages is None
    assert list(task.stop) == SPEC_STOP
    body = "    return any(abs(a - b) < threshold for a in numbers for b in numbers if a is not b)\n"
    for stop in SPEC_STOP:
        tail = stop + "rest()\n"
        assert task.extract(body + tail) == body, stop
    assert task.extract(body + "\nx = 1\n\n\nprint(x)\ndef f(): pass") == body + "\nx = 1\n\n"
    assert truncate_at_stop("a\nimport b\ndef c", SPEC_STOP) == "a"  # the earliest stop wins
    assert task.extract("    return 1  # ndef notastop\n") == "    return 1  # ndef notastop\n"


def test_mbpp_3shot_prompt_byte_exact(mbpp_full):
    proto = Protocol(mbpp_full, "base", "harness")
    tasks = proto.tasks()
    assert [t.task_id for t in tasks] == [str(i) for i in range(11, 511)]
    task11 = tasks[0]
    rows = {p.task_id: p for p in mbpp_full.problems}

    def question(tid: str) -> str:
        p = rows[tid]
        return SPEC_MBPP.format(text=p.prompt, tests="\n".join(p.test_list))

    shots = "".join(question(t) + "```python\n" + rows[t].canonical.replace("\r\n", "\n").rstrip() + "\n```\n\n"
                    for t in ("2", "3", "4"))
    expected_question = (
        "You are an expert Python programmer, and here is your task:\n"
        "Write a python function to remove first and last occurrence of a given character from the string."
        "Your code should pass these tests:\n"
        'assert remove_Occ("hello","l") == "heo"\n'
        'assert remove_Occ("abcda","a") == "bcd"\n'
        'assert remove_Occ("PHP","P") == "H"\n'
    )
    assert question("11") == expected_question
    assert task11.prompt == shots + expected_question + "```python\n"
    assert task11.prompt.startswith("You are an expert Python programmer, and here is your task:\n"
                                    "Write a function to find the similar elements from the given two tuple lists.")
    assert "\r" not in task11.prompt
    assert list(task11.stop) == ["\n```"]
    assert task11.extract("def remove_Occ(s, ch):\n    return s\n```\n\nYou are") == "def remove_Occ(s, ch):\n    return s\n"


@needs_mbpp
def test_mbpp_sanitized_uses_prompt_field_and_test_ids():
    bench = load_mbpp("sanitized")
    tasks = Protocol(bench, "base", "harness").tasks()
    assert len(tasks) == 257 and all(11 <= int(t.task_id) <= 510 for t in tasks)
    assert "Write a function to find the shared elements from the given two lists." in tasks[0].prompt


def test_chat_code_extraction():
    assert extract_code("Sure!\n```python\ndef f():\n    return 1\n```\nDone. ```python\nx\n```") == \
        "def f():\n    return 1\n"
    assert extract_code("Here:\n```\nprint(1)\n```") == "print(1)\n"
    assert extract_code("```py\nA\n```") == "A\n"
    assert extract_code("```bash\npip install x\n```\n```python\nB\n```") == "B\n"  # first python block
    assert extract_code("```python\ndef f():\n    return 1") == "def f():\n    return 1"  # cut by max tokens
    assert extract_code("def f(): return 2") == "def f(): return 2"  # no fence: the whole reply


def test_programs(humaneval, mbpp_full):
    p = humaneval.problems[0]
    base = Protocol(humaneval, "base", "harness").tasks()[0]
    body = "    return False\n"
    assert base.build_program(body + "\ndef later(): pass") == \
        p.prompt + body + "\n" + p.test + "\n" + "check(has_close_elements)"

    chat = Protocol(humaneval, "chat", "harness").tasks()[0]
    (msg,) = chat.messages
    assert msg["role"] == "user" and p.prompt in msg["content"] and chat.prompt is None and chat.stop == ()
    whole = "from typing import List\n\ndef has_close_elements(numbers, threshold):\n    return False\n"
    program = chat.build_program(f"Here you go:\n```python\n{whole}```\nIt works.")
    assert program == p.prompt + "\n" + whole + "\n" + p.test + "\n" + "check(has_close_elements)"
    assert chat.build_program(f"```python\n{body}```") == p.prompt + body + "\n" + p.test + "\n" + \
        "check(has_close_elements)"  # a body-only reply continues the prompt

    task = Protocol(mbpp_full, "chat", "harness").tasks()[0]
    assert task.messages[0]["content"] == SPEC_MBPP.format(text=mbpp_full.problems[10].prompt,
                                                           tests="\n".join(mbpp_full.problems[10].test_list))
    code = "def remove_Occ(s, ch):\n    return s.replace(ch, '')\n"
    assert task.build_program(f"```python\n{code}```") == \
        "\n" + code + "\n" + "\n".join(mbpp_full.problems[10].test_list) + "\n"
    setup_task = next(t for t in Protocol(mbpp_full, "base", "harness").tasks() if t.task_id == "367")
    assert setup_task.build_program("X = 1\n```").startswith("root = Node(1)")  # setup runs first


def test_unknown_protocol(humaneval):
    with pytest.raises(ValueError, match="use one of"):
        Protocol(humaneval, "instruct")
