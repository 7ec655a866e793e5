"""The bundled SFT demo file: its schema, its size, and that every code answer in it actually runs.

A tiny model fine-tuned on wrong code learns wrong code, so each example's ```python blocks are executed in a
fresh isolated interpreter; most end in ``assert`` lines, which makes a passing run mean the code is correct."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import partial
from multiprocessing.pool import ThreadPool
from pathlib import Path

import pytest

from opencook.lm.data.chat import example_messages

DEMO = Path(__file__).resolve().parents[2] / "recipes" / "lm" / "sft_demo.jsonl"
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
MAX_CHARS = 1000
MIN_EXAMPLES = 80


def load() -> list[dict]:
    examples = []
    for number, line in enumerate(DEMO.read_text(encoding="utf-8").splitlines(), 1):
        try:
            examples.append(json.loads(line))
        except json.JSONDecodeError as err:
            pytest.fail(f"{DEMO.name} line {number} is not valid JSON: {err}")
    return examples


def answers(example: dict) -> list[str]:
    if "messages" in example:
        return [m["content"] for m in example["messages"] if m["role"] == "assistant"]
    return [example["output"]]


def python_code(example: dict) -> str:
    return "\n\n".join(code for text in answers(example) for lang, code in FENCE.findall(text) if lang == "python")


def check_schema(number: int, example: dict) -> None:
    where = f"{DEMO.name} line {number}"
    if "messages" in example:
        assert set(example) == {"messages"}, f"{where}: unexpected keys {sorted(example)}"
        roles = [m["role"] for m in example["messages"]]
        assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) and m["content"].strip()
                   for m in example["messages"]), f"{where}: each message needs non-empty 'role' and 'content' only"
        turns = roles[1:] if roles[0] == "system" else roles
        assert turns and len(turns) % 2 == 0, f"{where}: turns {roles} must be user/assistant pairs"
        assert turns == ["user", "assistant"] * (len(turns) // 2), f"{where}: roles {roles} do not alternate"
    else:
        assert set(example) == {"instruction", "output"}, f"{where}: unexpected keys {sorted(example)}"
        assert all(isinstance(example[k], str) and example[k].strip() for k in example), f"{where}: empty field"


def test_every_line_has_a_valid_schema_and_the_loader_accepts_it() -> None:
    examples = load()
    assert len(examples) >= MIN_EXAMPLES, f"{DEMO.name} has {len(examples)} examples, expected >= {MIN_EXAMPLES}"
    for number, example in enumerate(examples, 1):
        check_schema(number, example)
        messages = example_messages(example)
        assert messages[-1]["role"] == "assistant"


def test_formats_are_mixed_and_examples_are_distinct_and_short() -> None:
    examples = load()
    chats = [e for e in examples if "messages" in e]
    assert len(chats) >= 15 and len(examples) - len(chats) >= 50
    assert any(e["messages"][0]["role"] == "system" for e in chats)
    assert any(sum(m["role"] == "user" for m in e["messages"]) >= 2 for e in chats)
    prompts = [e.get("instruction") or next(m["content"] for m in e["messages"] if m["role"] == "user")
               for e in examples]
    assert len(set(prompts)) == len(prompts), "duplicate prompts in the demo file"
    for number, e in enumerate(examples, 1):
        size = sum(len(m["content"]) for m in example_messages(e)[1:])
        assert size <= MAX_CHARS, f"line {number} has {size} characters; keep examples under {MAX_CHARS}"


def test_code_is_always_fenced_as_python_and_mostly_self_checking() -> None:
    examples = load()
    for number, e in enumerate(examples, 1):
        for text in answers(e):
            assert text.count("```") % 2 == 0, f"line {number}: unbalanced ``` fence"
            langs = [lang for lang, _ in FENCE.findall(text)]
            assert all(lang == "python" for lang in langs), f"line {number}: fence languages {langs}, use ```python"
    with_code = [python_code(e) for e in examples if python_code(e)]
    assert len(with_code) >= 0.9 * len(examples)
    assert sum("assert " in code for code in with_code) >= 0.9 * len(with_code)


def run_example(item: tuple[int, str], cwd: Path) -> tuple[int, int, str]:
    number, code = item
    env = {"PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1"}
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                              timeout=20, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        return number, -1, "timed out after 20 s"
    return number, proc.returncode, proc.stderr[-1500:]


def test_every_python_answer_runs_and_its_asserts_pass(tmp_path: Path) -> None:
    jobs = [(number, code) for number, e in enumerate(load(), 1) if (code := python_code(e))]
    with ThreadPool(2) as pool:
        results = pool.map(partial(run_example, cwd=tmp_path), jobs)
    failures = [f"line {n}: exit {rc}\n{err}" for n, rc, err in results if rc != 0]
    assert not failures, f"{len(failures)} demo answers fail when run:\n" + "\n".join(failures)
