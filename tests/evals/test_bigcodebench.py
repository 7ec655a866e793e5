"""BigCodeBench: the release format (libs as a list or its repr), tasks with missing libraries skipped and
counted by library, TestCases run in the real sandbox with BigCodeBench's rules and a per-task limit, the
prompts of both splits, and the CLI verbs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opencook.benchmarks.bigcodebench import load_bigcodebench
from opencook.benchmarks.problems import DatasetError
from opencook.evals import bigcodebench as bcb

SUM_TEST = '''import unittest

class TestCases(unittest.TestCase):
    def test_small(self):
        self.assertEqual(task_func([1, 2, 3]), 6)

    def test_empty(self):
        self.assertEqual(task_func([]), 0)

    def test_utc(self):
        import time
        self.assertEqual(time.strftime("%Z"), "UTC")
'''
SUM = {
    "complete_prompt": 'import itertools\n\ndef task_func(numbers):\n    """Sum the numbers.\n\n    Requirements:\n'
                       '    - itertools\n    """\n',
    "instruct_prompt": "Sum a list of numbers.\nThe function should output with:\n    int: the sum.\n"
                       "You should write self-contained code starting with:\n```\nimport itertools\n"
                       "def task_func(numbers):\n```",
    "canonical_solution": "    return sum(itertools.chain(numbers))\n",
    "code_prompt": "import itertools\ndef task_func(numbers):\n",
}


def task(task_id: str, libs: object, **fields: str) -> dict:
    base = {"task_id": task_id, "entry_point": "task_func", "test": SUM_TEST, "libs": libs, **SUM}
    return {**base, **fields}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rows = [
        task("BigCodeBench/0", "['itertools']"),  # the repr form some releases use
        task("BigCodeBench/1", ["collections", "random"],
             canonical_solution="    import collections\n    return sum(collections.Counter(numbers).elements())\n"),
        task("BigCodeBench/2", "['numpy_opencook_missing', 'itertools', 'zzz_not_installed']"),
        task("BigCodeBench/3", ["zzz_not_installed"]),
        task("BigCodeBench/4", [], canonical_solution="    print('chatty'); return sum(numbers) if numbers else "
                                                      "input()\n"),  # reads stdin when empty: fails
    ]
    path = tmp_path / "bigcodebench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_missing_libraries_are_skipped_and_counted(dataset: Path) -> None:
    bench = load_bigcodebench(dataset)
    assert [t.task_id for t in bench.tasks] == ["BigCodeBench/0", "BigCodeBench/1", "BigCodeBench/4"]
    assert bench.skipped == ("BigCodeBench/2", "BigCodeBench/3")
    assert bench.skipped_by_library == {"numpy_opencook_missing": 1, "zzz_not_installed": 2}
    record = bench.record()
    assert record["tasks"] == 5 and record["runnable"] == 3 and record["skipped"] == 2
    assert bench.tasks[0].libs == ("itertools",)


def test_bad_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_bigcodebench(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "x"}) + "\n")
    with pytest.raises(DatasetError, match="lacks field"):
        load_bigcodebench(bad)
    bad.write_text(json.dumps(task("x", "not a list(")) + "\n")
    with pytest.raises(DatasetError, match="libs"):
        load_bigcodebench(bad)
    with pytest.raises(DatasetError, match="subset"):
        load_bigcodebench(bad, "medium")


def test_canonical_solutions_run_their_test_cases(dataset: Path) -> None:
    bench = load_bigcodebench(dataset)
    codes = [[t.complete_prompt + t.canonical_solution] for t in bench.tasks]
    verdicts = [row[0] for row in bcb.judge(bench.tasks, codes, timeout_s=30)]
    assert [v["kind"] for v in verdicts] == ["passed", "passed", "failed"]
    assert set(verdicts[2]["details"]) == {"test_empty"}  # one test errs (stdin is unreadable), two pass


def test_wrong_crashing_and_slow_solutions_fail(dataset: Path) -> None:
    t = load_bigcodebench(dataset).tasks[0]
    codes = {
        "wrong": t.complete_prompt + "    return 0\n",
        "crash at import": "import zzz_not_installed\n" + t.complete_prompt + "    return sum(numbers)\n",
        "slow": t.complete_prompt + "    while True:\n        pass\n",
        "exit(0) early": "import os\nos._exit(0)\n",
        "exit() disabled": t.complete_prompt + "    exit()\n",
    }
    verdicts = dict(zip(codes, (r[0] for r in bcb.judge([t] * len(codes), [[c] for c in codes.values()],
                                                       timeout_s=1.0)), strict=True))
    assert verdicts["wrong"]["kind"] == "failed" and set(verdicts["wrong"]["details"]) == {"test_small"}
    assert verdicts["crash at import"]["kind"] == "failed" and "ALL" in verdicts["crash at import"]["details"]
    assert verdicts["slow"]["kind"] == "timeout"
    assert verdicts["exit(0) early"]["kind"] == "failed"
    assert verdicts["exit() disabled"]["kind"] == "failed"


def test_prompts_and_solution_assembly(dataset: Path) -> None:
    t = load_bigcodebench(dataset).tasks[0]
    assert bcb.chat_message(t, "instruct") == f"{bcb.INSTRUCTION_PREFIX}\n{t.instruct_prompt.strip()}\n"
    assert bcb.chat_message(t, "complete") == f"{bcb.INSTRUCTION_PREFIX}\n```\n{t.complete_prompt.strip()}\n```\n"
    base = bcb.solution(t, "complete", "base", "    return sum(numbers)\n\ndef other():\n    pass\n")
    assert base == t.complete_prompt + "    return sum(numbers)\n"
    reply = "Here:\n```python\ndef task_func(numbers):\n    return sum(numbers)\n```\n"
    assert bcb.solution(t, "instruct", "chat", reply) == (
        t.code_prompt + "\n    pass\n" + "def task_func(numbers):\n    return sum(numbers)\n")
    with pytest.raises(ValueError, match="chat models"):
        bcb.solution(t, "instruct", "base", "x")


def test_cli_verify_prints_skips_and_passed_total_last(dataset: Path, capsys) -> None:
    from opencook.cli import main

    assert main(["eval", "verify", "bigcodebench", "--dataset", str(dataset), "--timeout", "30"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(out)
    assert "skipped 2 of 5 tasks" in text and "zzz_not_installed: 2" in text and "numpy_opencook_missing: 1" in text
    assert "BigCodeBench/4: failed" in text
    assert out[-1].startswith("2/3")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random LLaMA with a BPE tokenizer and chat template, as save_hf_dir writes it."""
    torch = pytest.importorskip("torch")
    from opencook.lm.hf import save_hf_dir
    from opencook.lm.model import Llama, ModelConfig
    from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

    tmp = tmp_path_factory.mktemp("bcb_model")
    src = Path(__file__).resolve().parents[2] / "src" / "opencook" / "evals"
    tok = train_tokenizer(sorted(src.glob("*.py")), TokenizerConfig(vocab_size=400), progress=False)
    save_tokenizer(tok, tmp / "tok")
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=tok.get_vocab_size(), dim=32, n_layers=1, n_heads=4, n_kv_heads=4,
                              ffn_dim=64, max_seq_len=1024)).eval()
    return save_hf_dir(model, tmp / "model", tokenizer=tmp / "tok", chat=True)


@pytest.mark.parametrize(("split", "kind"), [("complete", "base"), ("instruct", "chat")])
def test_cli_eval_with_a_model_end_to_end(dataset: Path, tiny_model: Path, tmp_path: Path, split: str,
                                          kind: str, capsys) -> None:
    from opencook.cli import main

    out = tmp_path / "run"
    assert main(["eval", "bigcodebench", "--model", str(tiny_model), "--dataset", str(dataset), "--split", split,
                 "--kind", kind, "--max-new-tokens", "8", "--out", str(out), "--quiet", "--timeout", "20"]) == 0
    record = json.loads((out / "results.json").read_text())
    rows = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    assert record["benchmark"]["skipped_by_library"] == {"numpy_opencook_missing": 1, "zzz_not_installed": 2}
    assert record["protocol"]["split"] == split and record["protocol"]["kind"] == kind
    assert [r["task_id"] for r in rows] == ["BigCodeBench/0", "BigCodeBench/1", "BigCodeBench/4"]
    tasks = {t.task_id: t for t in load_bigcodebench(dataset).tasks}
    for r in rows:
        (s,) = r["samples"]
        assert s["code"] == bcb.solution(tasks[r["task_id"]], split, kind, s["completion"])
        assert s["kind"] in ("passed", "failed", "timeout")
    printed = capsys.readouterr().out
    assert "skipped 2 of 5 tasks" in printed and "pass@1:" in printed
