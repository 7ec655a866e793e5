"""A teacher stage is a list of steps on the one step contract, run on an executor: a check of one's own is one
more ``SampleFilter`` in the list, and its drops are counted and logged like the built-in ones. Real parsing,
real sandbox runs; the replies come from the journal and the endpoint is down."""

from __future__ import annotations

import json
import socket
from typing import ClassVar

import pytest

from opencook.kit.executors import InProcessExecutor
from opencook.kit.step import Map
from opencook.synth.cache import request_key
from opencook.synth.counts import fate_of
from opencook.synth.edu_instruct import make_items, parse
from opencook.synth.stage import RunConfig, run_steps, stage_steps
from opencook.synth.steps import Execute, SampleFilter
from opencook.synth.teacher import Teacher, TeacherConfig

PROBLEM = "Problem:\nWrite a function that does the thing described by its name, carefully.\n\n"


def _exercise(solution: str, tests: str) -> str:
    return f"{PROBLEM}Solution:\n```python\n{solution}\n```\n\nTests:\n```python\n{tests}\n```\n"


REPLIES = {
    "passes": _exercise("def double(x):\n    return 2 * x", "assert double(2) == 4"),
    "wrong": _exercise("def double(x):\n    return x + 1", "assert double(2) == 4"),
    "hangs": _exercise("def double(x):\n    while True:\n        pass", "assert double(2) == 4"),
    "no_code": "Problem: double a number. Solution: multiply it by two.",
}


@pytest.fixture
def journalled(tmp_path):
    """Items whose replies are all in the journal, and a teacher whose endpoint is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    config = TeacherConfig(endpoint=endpoint, model="teacher", retries=0)
    items = make_items([{"id": name, "text": f"# seed {name}\nx = 1\n"} for name in REPLIES])
    with open(tmp_path / "teacher.jsonl", "w") as fh:
        for item, text in zip(items, REPLIES.values(), strict=True):
            fh.write(json.dumps({"id": item.id, "model": "teacher", "finish_reason": "stop", "text": text,
                                 "key": request_key("teacher", item.messages, config.knobs())}) + "\n")
    return items, Teacher(config)


class NoEndlessLoop(SampleFilter):
    """A static check before the sandbox: a ``while True`` is a failed test without running it."""

    name: ClassVar[str] = "no_endless_loop"
    config_cls: ClassVar[type] = dict

    def verdict(self, record):
        return "tests:static:while_true" if "while True" in record["candidate"].program else None


def test_a_filter_of_ones_own_is_counted_and_logged_like_the_built_in_steps(tmp_path, journalled):
    items, teacher = journalled
    steps = stage_steps(teacher, tmp_path, parse, RunConfig(timeout_s=2.0, decontaminate=False))
    assert isinstance(steps[-1], Execute)
    steps.insert(-1, NoEndlessLoop())
    kept, counts = run_steps("edu-instruct", items, steps, tmp_path)
    assert [c.item.seed["seed_id"] for c in kept] == ["passes"]
    # the hanging sample never reached the sandbox: a failed test by reason, not a timeout
    assert (counts.kept, counts.failed_tests, counts.timeouts, counts.failed_to_parse) == (1, 2, 0, 1)
    assert counts.reasons == {"parse:no_code_block": 1, "tests:static:while_true": 1, "tests:wrong_answer": 1}
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    by_id = {it.id: name for it, name in zip(items, REPLIES, strict=True)}
    assert [(by_id[r["id"]], r["fate"], r["reason"]) for r in rejected] == [
        ("hangs", "failed_tests", "tests:static:while_true"),  # drops in the order the samples met them
        ("no_code", "failed_to_parse", "parse:no_code_block"),
        ("wrong", "failed_tests", "tests:wrong_answer"),
    ]
    saved = json.loads((tmp_path / "counts.json").read_text())
    assert saved["reasons"] == counts.reasons and saved["teacher"]["resumed"] == len(REPLIES)


class CountingExecutor(InProcessExecutor):
    """The in-process executor, remembering what it was asked to run."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, int]] = []

    def map(self, fn, tasks, desc):
        self.ran.append((desc, len(tasks)))
        return super().map(fn, tasks, desc)


def test_a_stage_is_one_task_on_the_executor_it_is_given(tmp_path, journalled):
    items, teacher = journalled
    executor = CountingExecutor()
    steps = stage_steps(teacher, tmp_path, parse, RunConfig(timeout_s=2.0, decontaminate=False))
    kept, counts = run_steps("edu-instruct", items, steps, tmp_path, executor=executor)
    assert executor.ran == [("edu-instruct", 1)]
    assert (counts.kept, counts.timeouts) == (1, 1) and len(kept) == 1


class LosesRecords(Map):
    """A broken step: drops a record without a reason."""

    name: ClassVar[str] = "loses_records"
    config_cls: ClassVar[type] = dict

    def process(self, records, stats):
        yield from list(records)[1:]


class Unfated(SampleFilter):
    name: ClassVar[str] = "unfated"
    config_cls: ClassVar[type] = dict

    def verdict(self, record):
        return "style:too_short"


def test_a_sample_lost_without_a_reason_or_a_reason_without_a_fate_is_an_error(tmp_path, journalled):
    items, teacher = journalled
    steps = stage_steps(teacher, tmp_path, parse, RunConfig(decontaminate=False))
    with pytest.raises(AssertionError, match="counts do not add up"):
        run_steps("edu-instruct", items, [*steps[:2], LosesRecords(), *steps[2:]], tmp_path)
    with pytest.raises(ValueError, match=r"'style:too_short' has no fate: start it with one of parse:"):
        run_steps("edu-instruct", items, [*steps[:2], Unfated(), *steps[2:]], tmp_path)


def test_fates_come_from_the_reason_prefix():
    assert fate_of("parse:truncated") == "failed_to_parse"
    assert fate_of("decontam:mbpp:ngram") == "contaminated"
    assert fate_of("tests:timeout") == "timeouts" and fate_of("tests:exception") == "failed_tests"
