"""Issue 20 case 8, xc side: training config errors fail in the launcher before any rank starts --
one line on stderr, exit 2, no traceback, nothing written."""

import os
import subprocess
import sys

import pytest
import yaml
from test_trainer import TINY


def _run(tmp_path, *args, data=None):
    values = {**TINY, "data": data or TINY["data"]}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(values))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "opencook", "xc", "train", str(cfg), *args], capture_output=True,
                          text=True, env=env, timeout=120)


def _refused(proc, *words):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("opencook: config error:"), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert "torch.distributed" not in proc.stderr and "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(("args", "words"), [
    (["--nproc", "2", "--set", "optim.lr=-0.1"], ["optim.lr", "-0.1"]),
    (["--nproc", "2", "--set", "optim.head_lr=-1"], ["head_lr"]),
    (["--nproc", "3"], ["global_batch 64", "3 ranks"]),
    (["--nproc", "2", "--set", "eval_batch=129"], ["eval_batch 129"]),
    (["--nproc", "0"], ["--nproc", "got 0"]),
    (["--nproc", "-2"], ["--nproc", "got -2"]),
])
def test_bad_settings_are_one_line_before_any_rank(tmp_path, args, words):
    proc = _run(tmp_path, "--out", str(tmp_path / "run"), *args)
    _refused(proc, *words)
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    for out in (target, target / "run"):
        _refused(_run(tmp_path, "--out", str(out), "--nproc", "2"), str(target), "is a file")
    assert target.read_text() == "mine"


@pytest.mark.parametrize("sources", [[], ["/nonexistent/opencook/src"]])
def test_funcnames_without_usable_sources_is_refused_before_launch(tmp_path, sources):
    proc = _run(tmp_path, "--out", str(tmp_path / "run"), "--nproc", "2",
                data={"kind": "funcnames", "sources": sources, "cache_dir": str(tmp_path / "cache")})
    _refused(proc, "data.sources")
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()
