"""The teacher client against a real `opencook lm serve` (a tiny random model: fast, and its replies are
gibberish, which the stages must count, not crash on): cache, journal resume, rate limit, a dead endpoint,
and the CLI end to end."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from opencook.cli import main
from opencook.completions.sampling import Sampling
from opencook.lm.hf import save_hf_dir
from opencook.lm.model import Llama, ModelConfig
from opencook.synth.teacher import Teacher, TeacherConfig, TeacherError
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

NAME = "tiny-teacher"
ITEMS = [(f"q{i}", [{"role": "user", "content": f"Write a function number {i}."}]) for i in range(3)]


SERVED: dict[str, Path] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teacher")
    src = Path(__file__).resolve().parents[2] / "src" / "opencook" / "synth"
    tok = train_tokenizer(sorted(src.glob("*.py")), TokenizerConfig(vocab_size=400), progress=False)
    save_tokenizer(tok, tmp / "tok")
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=tok.get_vocab_size(), dim=32, n_layers=1, n_heads=4, n_kv_heads=2,
                              ffn_dim=64, max_seq_len=2048)).eval()
    model_dir = save_hf_dir(model, tmp / "model", tokenizer=tmp / "tok")
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "opencook", "lm", "serve", str(model_dir), "--port", "0", "--model-name", NAME],
        stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        match = re.search(r"http://[\d.]+:(\d+)/v1", proc.stdout.readline())
        assert match, (tmp / "server.log").read_text()
        SERVED["model_dir"] = model_dir
        yield match.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _dead_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _config(endpoint: str, **kw) -> TeacherConfig:
    return TeacherConfig(**{"endpoint": endpoint, "model": NAME, "sampling": Sampling(max_new_tokens=8),
                            "concurrency": 2, **kw})


def test_rerun_pays_nothing_from_journal_or_cache(server, tmp_path):
    first = Teacher(_config(server), cache_dir=tmp_path / "cache")
    answers = first.run(ITEMS, tmp_path / "a.jsonl")
    assert first.stats.requests == 3 and first.stats.cache_hits == 0
    assert all(a.source == "request" and a.error is None and a.text for a in answers.values())
    assert first.stats.completion_tokens > 0
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 3

    resumed = Teacher(_config(server), cache_dir=tmp_path / "cache")
    again = resumed.run(ITEMS, tmp_path / "a.jsonl")
    assert resumed.stats.requests == 0 and resumed.stats.resumed == 3
    assert {k: a.text for k, a in again.items()} == {k: a.text for k, a in answers.items()}

    # a new journal (another stage, another output folder) on the same cache, and the server gone
    cached = Teacher(_config(_dead_endpoint()), cache_dir=tmp_path / "cache")
    from_cache = cached.run(ITEMS, tmp_path / "b.jsonl")
    assert cached.stats.requests == 0 and cached.stats.cache_hits == 3
    assert {k: a.text for k, a in from_cache.items()} == {k: a.text for k, a in answers.items()}

    other_knobs = Teacher(_config(server, sampling=Sampling(max_new_tokens=9)), cache_dir=tmp_path / "cache")
    other_knobs.run(ITEMS[:1], tmp_path / "a.jsonl")
    assert other_knobs.stats.requests == 1 and other_knobs.stats.resumed == 0


def test_only_the_missing_items_are_asked_after_an_interruption(server, tmp_path):
    Teacher(_config(server)).run(ITEMS[:2], tmp_path / "j.jsonl")
    with open(tmp_path / "j.jsonl", "a") as fh:
        fh.write('{"id": "q2", "te')  # the run was killed while writing
    teacher = Teacher(_config(server))
    teacher.run(ITEMS, tmp_path / "j.jsonl")
    assert (teacher.stats.requests, teacher.stats.resumed) == (1, 2)


def test_rate_limit_spaces_requests(server, tmp_path):
    teacher = Teacher(_config(server, rps=4.0, concurrency=3))
    items = [(f"r{i}", [{"role": "user", "content": f"rate {i}"}]) for i in range(5)]
    start = time.perf_counter()
    teacher.run(items, tmp_path / "r.jsonl")
    assert teacher.stats.requests == 5
    assert time.perf_counter() - start >= (5 - 1) / 4.0


def test_down_endpoint_is_a_clear_error_after_retries(tmp_path):
    endpoint = _dead_endpoint()
    teacher = Teacher(_config(endpoint, retries=2, backoff_s=0.05))
    with pytest.raises(TeacherError, match=r"unreachable after 2 retries.*start the server") as info:
        teacher.run(ITEMS[:1], tmp_path / "d.jsonl")
    assert endpoint in str(info.value)
    assert (teacher.stats.requests, teacher.stats.retries) == (3, 2)


def test_unknown_model_is_a_clear_error(server, tmp_path):
    with pytest.raises(TeacherError, match="refused the request"):
        Teacher(_config(server, model="no-such-model")).run(ITEMS[:1], tmp_path / "m.jsonl")


def test_cli_edu_instruct_counts_gibberish_and_resumes(server, tmp_path, capsys):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"s{i}", "text": f"def f{i}(x):\n    return x + {i}\n"}) + "\n"
                             for i in range(3)))
    argv = ["synth", "edu-instruct", str(seeds), "--endpoint", server, "--out", str(tmp_path / "edu"),
            "--max-tokens", "16", "--limit", "2", "--no-decontam"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    counts = json.loads((tmp_path / "edu" / "counts.json").read_text())
    assert counts["requested"] == counts["generated"] == 2 and counts["kept"] == 0
    assert counts["failed_to_parse"] == 2  # random weights never write the asked format
    assert "teacher: 3 request(s)" in first  # the model name, then two items
    assert main(argv) == 0
    assert "teacher: 0 request(s), 0 cache hit(s), 2 resumed" in capsys.readouterr().out


def test_cli_algorithmic(tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"id": "a", "language": "Text", "text": "LeetCode 1: two sum"}) + "\n"
                    + json.dumps({"id": "b", "language": "Python", "text": "import numpy\nprint(1)\n"}) + "\n")
    assert main(["synth", "algorithmic", str(data), "--out", str(tmp_path / "alg")]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 files kept" in out and "marker:leetcode" in out


def test_serve_starts_a_local_teacher_for_one_command_and_stops_it(server, tmp_path, capsys):
    import urllib.error
    import urllib.request

    from opencook.synth.local_teacher import local_endpoint

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"s{i}", "text": f"def g{i}(x):\n    return x * {i}\n"}) + "\n"
                             for i in range(2)))
    argv = ["synth", "edu-instruct", str(seeds), "--serve", str(SERVED["model_dir"]), "--out", str(tmp_path / "e"),
            "--max-tokens", "16", "--no-decontam"]
    assert main(argv) == 0
    counts = json.loads((tmp_path / "e" / "counts.json").read_text())
    assert counts["generated"] == 2 and counts["failed_to_parse"] == 2 and counts["teacher_errors"] == 0
    with local_endpoint(SERVED["model_dir"]) as url:
        assert json.load(urllib.request.urlopen(f"{url}/models", timeout=30))["data"]
    with pytest.raises(urllib.error.URLError):  # stopped with the command: nothing listens there any more
        urllib.request.urlopen(f"{url}/models", timeout=5)
