"""LiveCodeBench: the release format (plain and compressed private tests, never unpickling objects), the date
window, LiveCodeBench's grading of stdin and functional tests in the real sandbox, per-test time limits,
and the CLI verbs."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from datetime import date
from pathlib import Path

import pytest

from opencook.benchmarks.livecodebench import load_livecodebench
from opencook.benchmarks.problems import DatasetError
from opencook.evals import livecodebench as lcb


def compressed(tests: list[dict]) -> str:
    """The release's form: base64(zlib(pickle(json text)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def row(qid: str, day: str, tests_public: list[dict], tests_private: str, *, starter: str = "",
        func: str | None = None, difficulty: str = "easy", platform: str = "atcoder") -> dict:
    return {"question_title": f"title {qid}", "question_content": f"Solve {qid}.", "platform": platform,
            "question_id": qid, "contest_id": "c1", "contest_date": f"{day}T00:00:00", "starter_code": starter,
            "difficulty": difficulty, "public_test_cases": json.dumps(tests_public),
            "private_test_cases": tests_private, "metadata": json.dumps({"func_name": func} if func else {})}


def stdin_test(i: str, o: str) -> dict:
    return {"input": i, "output": o, "testtype": "stdin"}


def fn_test(args: list, out: object) -> dict:
    return {"input": "\n".join(json.dumps(a) for a in args), "output": json.dumps(out), "testtype": "functional"}


STARTER = "class Solution:\n    def addAll(self, nums: List[int], k: int) -> List[int]:\n        "


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rows = [
        row("abc300_a", "2023-08-19", [stdin_test("1 2\n", "3\n")],
            compressed([stdin_test("10 20\n", "30\n"), stdin_test("-5 5\n", "0")])),
        row("3000", "2024-01-06", [fn_test([[1, 2], 3], [4, 5])],
            json.dumps([fn_test([[], 1], []), fn_test([[7], -7], [0])]), starter=STARTER, func="addAll",
            difficulty="medium", platform="leetcode"),
        row("abc250_a", "2022-05-08", [stdin_test("1\n", "1\n")], json.dumps([])),  # before the paper's window
        row("abc380_a", "2024-11-16", [stdin_test("1\n", "1\n")], json.dumps([])),  # after it
    ]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


STDIN_GOOD = {
    "input()": "a, b = map(int, input().split())\nprint(a + b)\n",
    "readline + __main__": ("import sys\ndef main():\n    a, b = map(int, sys.stdin.readline().split())\n"
                            "    print(a + b)\n\nif __name__ == '__main__':\n    main()\n"),
    "read() + exit()": "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b, '  ')\nexit()\n",
    "decimal-equal output": "a, b = map(int, input().split())\nprint(f'{a + b:.1f}')\n",
}
STDIN_BAD = {
    "wrong_answer": "a, b = map(int, input().split())\nprint(a - b)\n",
    "exception": "a, b = map(int, input().split())\nprint(a + b)\nraise ValueError('boom')\n",
    "timeout": "while True:\n    pass\n",
    "no code": "",
}
FN_GOOD = {
    "list": "class Solution:\n    def addAll(self, nums, k):\n        return [x + k for x in nums]\n",
    "tuple is a list": "class Solution:\n    def addAll(self, nums: List[int], k: int):\n"
                       "        return tuple(x + k for x in nums)\n",
}
FN_BAD = {
    "wrong_answer": "class Solution:\n    def addAll(self, nums, k):\n        return [x - k for x in nums]\n",
    "exception": "class Solution:\n    def addAll(self, nums, k):\n        return nums[10]\n",
    "timeout": "class Solution:\n    def addAll(self, nums, k):\n        while True:\n            pass\n",
}


def test_loader_window_and_both_test_encodings(dataset: Path) -> None:
    bench = load_livecodebench(dataset)  # the paper's window, 2023-05-01..2024-09-30
    assert [p.question_id for p in bench.problems] == ["abc300_a", "3000"]
    assert bench.outside_window == 2
    stdin, functional = bench.problems
    assert [t.output for t in stdin.tests] == ["3\n", "30\n", "0"]  # public first, private decompressed
    assert stdin.func_name is None and functional.func_name == "addAll"
    assert [t.testtype for t in functional.tests] == ["functional"] * 3
    wide = load_livecodebench(dataset, start=date(2022, 1, 1), end=date(2025, 1, 1))
    assert len(wide.problems) == 4 and wide.outside_window == 0
    assert bench.record()["window"] == ["2023-05-01", "2024-09-30"]


def test_compressed_tests_never_unpickle_objects(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps(row("x", "2024-01-01", [], payload)) + "\n")
    with pytest.raises(DatasetError, match="refusing"):
        load_livecodebench(path)
    assert not marker.exists()


def test_bad_input_is_named(tmp_path: Path, dataset: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_livecodebench(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question_id": "1"}) + "\n")
    with pytest.raises(DatasetError, match="lacks field"):
        load_livecodebench(bad)
    with pytest.raises(DatasetError, match="window is empty"):
        load_livecodebench(dataset, start=date(2024, 1, 1), end=date(2023, 1, 1))


def test_prompt_is_livecodebench_generic_template(dataset: Path) -> None:
    stdin, functional = load_livecodebench(dataset).problems
    system, user = lcb.messages(stdin)
    assert system["role"] == "system" and system["content"].startswith("You are an expert Python programmer.")
    assert user["content"] == (
        "### Question:\nSolve abc300_a.\n\n### Format: Read the inputs from stdin solve the problem and write the "
        "answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as "
        "follows.\n```python\n# YOUR CODE HERE\n```\n\n### Answer: (use the provided format with backticks)\n\n")
    assert f"```python\n{STARTER}\n```\n\n" in lcb.user_prompt(functional)


def test_extraction_takes_the_last_fenced_block() -> None:
    reply = "First try:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\nDone."
    assert lcb.extract(reply) == "print(2)"
    assert lcb.extract("print(3)") == ""  # no fences: LiveCodeBench scores nothing


def test_grading_stdin_and_functional(dataset: Path) -> None:
    stdin, functional = load_livecodebench(dataset).problems
    codes = [list(STDIN_GOOD.values()) + list(STDIN_BAD.values()), list(FN_GOOD.values()) + list(FN_BAD.values())]
    verdicts = lcb.judge([stdin, functional], codes, test_timeout_s=1.0, workers=2)
    got_stdin = dict(zip(list(STDIN_GOOD) + list(STDIN_BAD), verdicts[0], strict=True))
    got_fn = dict(zip(list(FN_GOOD) + list(FN_BAD), verdicts[1], strict=True))
    for name in STDIN_GOOD:
        assert got_stdin[name]["kind"] == "passed", (name, got_stdin[name])
    for name in FN_GOOD:
        assert got_fn[name]["kind"] == "passed", (name, got_fn[name])
    assert got_stdin["wrong_answer"]["kind"] == "wrong_answer" and got_stdin["wrong_answer"]["test"] == 0
    assert got_stdin["exception"]["kind"] == "exception" and "boom" in got_stdin["exception"]["message"]
    assert got_stdin["timeout"]["kind"] == "timeout"
    assert got_stdin["no code"]["kind"] == "exception"  # an empty function body does not compile, as in LCB
    assert got_fn["wrong_answer"]["kind"] == "wrong_answer"
    assert got_fn["exception"]["kind"] == "exception" and "IndexError" in got_fn["exception"]["message"]
    assert got_fn["timeout"]["kind"] == "timeout"


def test_a_private_test_failure_is_caught(dataset: Path) -> None:
    stdin = load_livecodebench(dataset).problems[0]
    only_public = "a, b = map(int, input().split())\nprint(3 if a == 1 else a * b)\n"  # right on test 0 only
    (v,) = lcb.judge([stdin], [[only_public]], test_timeout_s=2.0)[0]
    assert v["kind"] == "wrong_answer" and v["test"] == 1


def test_exiting_early_with_status_zero_is_not_a_pass(dataset: Path) -> None:
    stdin = load_livecodebench(dataset).problems[0]
    (v,) = lcb.judge([stdin], [["import os\nos._exit(0)\n"]], test_timeout_s=2.0)[0]
    assert v["kind"] == "exception"


def test_cli_verify_with_solutions(dataset: Path, tmp_path: Path, capsys) -> None:
    from opencook.cli import main

    sols = tmp_path / "solutions.jsonl"
    sols.write_text(json.dumps({"question_id": "abc300_a", "code": STDIN_GOOD["input()"]}) + "\n"
                    + json.dumps({"question_id": "3000", "code_list": [FN_BAD["wrong_answer"]]}) + "\n")
    assert main(["eval", "verify", "livecodebench", "--dataset", str(dataset), "--solutions", str(sols)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "3000" in "\n".join(out) and "wrong_answer" in "\n".join(out)
    assert out[-1].startswith("1/2")
    missing = tmp_path / "partial.jsonl"
    missing.write_text(json.dumps({"question_id": "abc300_a", "code": "print(3)"}) + "\n")
    assert main(["eval", "verify", "livecodebench", "--dataset", str(dataset), "--solutions", str(missing)]) == 2
    assert "no solution for 1 problem" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random LLaMA with a BPE tokenizer and chat template, as save_hf_dir writes it."""
    torch = pytest.importorskip("torch")
    from opencook.lm.hf import save_hf_dir
    from opencook.lm.model import Llama, ModelConfig
    from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

    tmp = tmp_path_factory.mktemp("lcb_model")
    src = Path(__file__).resolve().parents[2] / "src" / "opencook" / "evals"
    tok = train_tokenizer(sorted(src.glob("*.py")), TokenizerConfig(vocab_size=400), progress=False)
    save_tokenizer(tok, tmp / "tok")
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=tok.get_vocab_size(), dim=32, n_layers=1, n_heads=4, n_kv_heads=4,
                              ffn_dim=64, max_seq_len=1024)).eval()
    return save_hf_dir(model, tmp / "model", tokenizer=tmp / "tok", chat=True)


def test_cli_eval_with_a_model_end_to_end(dataset: Path, tiny_model: Path, tmp_path: Path, capsys) -> None:
    from opencook.cli import main

    out = tmp_path / "run"
    assert main(["eval", "livecodebench", "--model", str(tiny_model), "--dataset", str(dataset), "--max-new-tokens",
                 "8", "--out", str(out), "--quiet", "--test-timeout", "2"]) == 0
    record = json.loads((out / "results.json").read_text())
    rows = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    assert record["problems_evaluated"] == 2 and record["benchmark"]["outside_window"] == 2
    assert record["protocol"]["system"] == lcb.SYSTEM_MESSAGE and record["protocol"]["test_timeout_s"] == 2.0
    assert [r["task_id"] for r in rows] == ["abc300_a", "3000"]
    for r in rows:
        (s,) = r["samples"]
        assert s["code"] == lcb.extract(s["completion"])
        assert s["kind"] in lcb.KINDS and not s["passed"]  # a random model solves nothing
    assert "pass@1: 0.00" in capsys.readouterr().out
