"""A whole Educational-Instruct stage on replies of every kind: real parsing, real decontamination, real sandbox
runs. The replies come from the teacher journal, as after an interrupted run, and the endpoint is down, so the
test also shows a resumed stage makes no request."""

from __future__ import annotations

import json
import socket

from mbpp_data import BENCHMARKS
from opencook.benchmarks.decontam import DecontamConfig
from opencook.synth.cache import request_key
from opencook.synth.edu_instruct import edu_instruct, make_items
from opencook.synth.stage import RunConfig
from opencook.synth.teacher import Teacher, TeacherConfig

PROBLEM = "Problem:\nWrite a function that does the thing described by its name, carefully.\n\n"


def _exercise(solution: str, tests: str) -> str:
    return f"{PROBLEM}Solution:\n```python\n{solution}\n```\n\nTests:\n```python\n{tests}\n```\n"


REPLIES = {
    "passes": (_exercise("def double(x):\n    return 2 * x", "assert double(2) == 4\nassert double(0) == 0"), "stop"),
    "wrong": (_exercise("def double(x):\n    return x + 1", "assert double(2) == 4"), "stop"),
    "raises": (_exercise("def double(x):\n    return x / 0", "assert double(2) == 4"), "stop"),
    "hangs": (_exercise("def double(x):\n    while True:\n        pass", "assert double(2) == 4"), "stop"),
    "no_code": ("Problem: double a number. Solution: multiply it by two.", "stop"),
    "endless": (PROBLEM + "Solution:\n```python\ndef f():\n" + "    x = 1\n" * 80, "length"),
    "contaminated": (_exercise("def has_close_elements(numbers, threshold):\n    return False",
                               "assert has_close_elements([], 1.0) is False"), "stop"),
}


def _dead_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_every_kind_of_reply_is_counted_and_only_passing_samples_are_kept(tmp_path):
    seeds = [{"id": name, "text": f"# seed {name}\nx = 1\n"} for name in REPLIES]
    config = TeacherConfig(endpoint=_dead_endpoint(), model="teacher", retries=0)
    items = make_items(seeds)
    with open(tmp_path / "teacher.jsonl", "w") as fh:
        for item, (text, reason) in zip(items, REPLIES.values(), strict=True):
            key = request_key("teacher", item.messages, config.knobs())
            fh.write(json.dumps({"id": item.id, "model": "teacher", "key": key, "text": text,
                                 "finish_reason": reason}) + "\n")
        fh.write('{"id": "torn line of a killed ru')
    teacher = Teacher(config, cache_dir=tmp_path / "cache")
    path, counts = edu_instruct(seeds, teacher, tmp_path, RunConfig(timeout_s=1.0, decontam=DecontamConfig(benchmarks=BENCHMARKS)))
    assert teacher.stats.requests == 0 and teacher.stats.resumed == len(REPLIES)
    assert (counts.requested, counts.generated, counts.teacher_errors) == (7, 7, 0)
    assert (counts.kept, counts.failed_tests, counts.timeouts, counts.failed_to_parse, counts.contaminated) == \
        (1, 2, 1, 2, 1)
    assert counts.truncated == 1
    assert counts.reasons == {"tests:wrong_answer": 1, "tests:exception": 1, "tests:timeout": 1,
                              "parse:no_code_block": 1, "parse:truncated": 1,
                              "decontam:humaneval:entry_point": 1}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seed_id"] for r in rows] == ["passes"]
    assert rows[0]["messages"][1]["content"] == rows[0]["output"] and "def double" in rows[0]["output"]
    rejected = {json.loads(line)["id"] for line in (tmp_path / "rejected.jsonl").read_text().splitlines()}
    assert len(rejected) == 6 and rows[0]["id"] not in rejected
    saved = json.loads((tmp_path / "counts.json").read_text())
    assert saved["kept"] == 1 and saved["teacher"]["requests"] == 0


def test_decontamination_can_be_switched_off(tmp_path):
    seeds = [{"id": "c", "text": "# seed contaminated\nx = 1\n"}]
    config = TeacherConfig(endpoint=_dead_endpoint(), model="teacher", retries=0)
    (item,) = make_items(seeds)
    text, reason = REPLIES["contaminated"]
    (tmp_path / "teacher.jsonl").write_text(json.dumps({"id": item.id, "model": "teacher", "key": request_key(
        "teacher", item.messages, config.knobs()), "text": text, "finish_reason": reason}) + "\n")
    _, counts = edu_instruct(seeds, Teacher(config), tmp_path, RunConfig(decontaminate=False))
    assert (counts.kept, counts.contaminated) == (1, 0)
