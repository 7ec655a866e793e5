"""The one progress rule (kit/progress.py) on the verbs that generate, judge and loop: `opencook eval`,
`opencook synth` and `opencook data recall` run as real subprocesses with stderr going to a file (one plain
line per window: count, rate, ETA, never a carriage return), to a terminal (a bar), and under --quiet
(no progress at all, the same results)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
import torch

from lm_assets import lm_server
from opencook.kit.progress import MODE_ENV
from opencook.lm.hf import save_hf_dir
from opencook.lm.model import Llama, ModelConfig
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

ROOT = Path(__file__).resolve().parents[1]
RATE = r"[\d.,]+ (\w+/s|s/\w+), elapsed \d+ s"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("progress_model")
    tok = train_tokenizer(sorted((ROOT / "src" / "opencook" / "evals").glob("*.py")), TokenizerConfig(vocab_size=400),
                          progress=False)
    save_tokenizer(tok, tmp / "tok")
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=tok.get_vocab_size(), dim=32, n_layers=1, n_heads=4, n_kv_heads=2,
                              ffn_dim=64, max_seq_len=2048)).eval()
    return save_hf_dir(model, tmp / "model", tokenizer=tmp / "tok")


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != MODE_ENV}, "OMP_NUM_THREADS": "1"}


def _run(argv: list[str], log: Path) -> tuple[str, str]:
    """``opencook ARGV`` with stderr to the file ``log`` (not a terminal); (stdout, stderr)."""
    with open(log, "w") as err:
        proc = subprocess.run([sys.executable, "-m", "opencook", *argv], stdout=subprocess.PIPE, stderr=err,
                              stdin=subprocess.DEVNULL, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, log.read_text()[-3000:]
    return proc.stdout, log.read_text()


def _run_on_a_terminal(argv: list[str]) -> str:
    """``opencook ARGV`` with stderr on a pseudo-terminal; what the terminal showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a width
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the last writer closed
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "opencook", *argv], stdout=subprocess.PIPE, stderr=slave,
                              stdin=subprocess.DEVNULL, env=_env(), timeout=300)
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    assert proc.returncode == 0, shown.decode(errors="replace")[-3000:]
    return shown.decode(errors="replace")


def _lines(err: str, desc: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith(f"{desc}: ")]


def _verdicts(out: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    return [(r["task_id"], s["completion"], s["kind"]) for r in rows for s in r["samples"]]


@pytest.mark.slow  # three eval runs (about 30 s on the shared 2 cores)
def test_eval_progress_in_a_log_on_a_terminal_and_under_quiet(model_dir, tmp_path):
    base = ["eval", "humaneval", "--model", str(model_dir), "--limit", "3", "--batch-size", "1",
            "--max-new-tokens", "8", "--workers", "1", "--threads", "1"]
    out, err = _run([*base, "--out", str(tmp_path / "log")], tmp_path / "log.txt")
    assert "\r" not in err
    gen = _lines(err, "generate")
    assert [re.match(r"generate: problem (\d)/3", ln).group(1) for ln in gen] == ["1", "2", "3"], err
    assert all(re.search(RATE, ln) for ln in gen)
    assert all("ETA" in ln for ln in gen[:-1]) and "(100%)" in gen[-1]
    sandbox = _lines(err, "sandbox")
    assert sandbox and sandbox[-1].startswith("sandbox: program 3/3 (100%)") and re.search(RATE, sandbox[-1])
    assert "pass@1" in out  # the results table stays on stdout

    quiet_out, quiet_err = _run([*base, "--out", str(tmp_path / "quiet"), "--quiet"], tmp_path / "quiet.txt")
    assert not _lines(quiet_err, "generate") and not _lines(quiet_err, "sandbox"), quiet_err
    assert _verdicts(tmp_path / "log") == _verdicts(tmp_path / "quiet") and "pass@1" in quiet_out

    shown = _run_on_a_terminal([*base, "--out", str(tmp_path / "tty")])
    assert re.search(r"\rgenerate: +\d+%\|", shown) and re.search(r"\rsandbox: +\d+%\|", shown), shown[-2000:]
    assert not re.search(r"^generate: problem \d", shown, re.M)  # a bar, not the log's lines


@pytest.fixture(scope="module")
def served(model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("progress_server") / "server.log"
    with lm_server(model_dir, log=log, env=_env()) as url:
        yield url


def test_synth_teacher_requests_are_counted_in_the_log_and_not_under_quiet(served, tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"s{i}", "text": f"def f{i}(x):\n    return x + {i}\n"}) + "\n"
                             for i in range(3)))
    base = ["synth", "edu-instruct", str(seeds), "--endpoint", served, "--max-new-tokens", "8", "--limit", "3",
            "--no-decontam", "--concurrency", "1"]
    out, err = _run([*base, "--out", str(tmp_path / "log")], tmp_path / "log.txt")
    assert "\r" not in err
    teacher = _lines(err, "teacher")
    assert teacher and teacher[-1].startswith("teacher: request 3/3 (100%)") and re.search(RATE, teacher[-1]), err
    assert "teacher: " in out  # the request summary stays on stdout
    _, quiet_err = _run([*base, "--out", str(tmp_path / "quiet"), "--quiet"], tmp_path / "quiet.txt")
    assert not _lines(quiet_err, "teacher"), quiet_err
    counts = [json.loads((tmp_path / d / "counts.json").read_text())["generated"] for d in ("log", "quiet")]
    assert counts == [3, 3]


def test_recall_rounds_are_lines_with_an_eta_and_quiet_has_none(tmp_path):
    pytest.importorskip("fasttext", reason="needs the recall extra (fastText)")
    sys.path.insert(0, str(ROOT / "scripts"))
    from recall_demo_corpus import make_corpus

    corpus, seeds, _ = make_corpus(seed=0)
    for name, pages in (("web.jsonl", corpus), ("seeds.jsonl", seeds)):
        (tmp_path / name).write_text("".join(json.dumps({"url": p.url, "text": p.text}) + "\n" for p in pages))
    tok = train_tokenizer([tmp_path / "web.jsonl"], TokenizerConfig(vocab_size=800), progress=False)
    save_tokenizer(tok, tmp_path / "tok")
    cfg = tmp_path / "recall.yaml"
    cfg.write_text(f"corpus: [{tmp_path / 'web.jsonl'}]\nseeds: [{tmp_path / 'seeds.jsonl'}]\n"
                   f"tokenizer: {tmp_path / 'tok'}\nrounds: 2\n")
    out, err = _run(["data", "recall", str(cfg), "--out", str(tmp_path / "log"), "--workers", "1"],
                    tmp_path / "log.txt")
    assert "\r" not in err
    rounds = _lines(err, "recall")
    assert [re.match(r"recall: round (\d)/2", ln).group(1) for ln in rounds] == ["1", "2"], err
    assert f"scored {len(corpus):,} recalled " in rounds[0] and "ETA" in rounds[0] and re.search(RATE, rounds[1])
    assert out.startswith("recalled ")  # the summary, not the rounds, is the command's output
    _, quiet_err = _run(["data", "recall", str(cfg), "--out", str(tmp_path / "quiet"), "--workers", "1", "--quiet"],
                        tmp_path / "quiet.txt")
    assert not _lines(quiet_err, "recall"), quiet_err


def test_worker_threads_share_one_count(monkeypatch):
    """The sandbox's slots and the teacher's requests update one Progress from many threads: every unit is
    counted once and the log's counts only go up."""
    import io
    from concurrent.futures import ThreadPoolExecutor

    from opencook.kit.progress import Progress

    monkeypatch.delenv(MODE_ENV, raising=False)
    log = io.StringIO()
    with Progress(4000, "sandbox", "program", every=100, stream=log) as bar, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: bar.update(), range(4000)))
    counts = [int(m.group(1).replace(",", "")) for m in re.finditer(r"program ([\d,]+)/", log.getvalue())]
    assert counts == sorted(counts) and counts[-1] == 4000 and len(counts) >= 10
