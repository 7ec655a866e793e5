"""Config errors fail in the launcher, before any rank starts: one line, exit 2 (issue 20, cases 4 and 8);
``lm plan`` and ``--dry-run`` report without training."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from lm_assets import build_assets, recipe, run_cli


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return build_assets(tmp_path_factory.mktemp("lm_pre"))


def _refused(*args):
    t0 = time.perf_counter()
    proc = run_cli(*args, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0], time.perf_counter() - t0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"preset": "tinny"}}, "did you mean 'tiny'"),
        ({"data": {"sources": [{"path": "/nonexistent/packed"}]}}, "/nonexistent/packed does not exist"),
        ({"data": {"global_batch": 5, "seq_len": 32}, "micro_batch": 1}, "not a multiple of world_size (2)"),
    ],
)
def test_config_errors_fail_before_any_rank_starts(tmp_path, assets, change, message):
    cfg = recipe(tmp_path / "r.yaml", assets, **change)
    line, _ = _refused("lm", "pretrain", str(cfg), "--nproc", "2", "--out", str(tmp_path / "run"))
    assert message in line
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_and_nproc_below_one_are_refused(tmp_path, assets):
    cfg = recipe(tmp_path / "r.yaml", assets)
    (tmp_path / "file").write_text("mine\n")
    line, _ = _refused("lm", "pretrain", str(cfg), "--nproc", "2", "--out", str(tmp_path / "file"))
    assert "is a file" in line and (tmp_path / "file").read_text() == "mine\n"
    for bad in ("0", "-1"):
        proc = run_cli("lm", "pretrain", str(cfg), "--nproc", bad, "--out", str(tmp_path / "x"), check=False)
        assert proc.returncode == 2 and "must be >= 1" in proc.stderr


def test_a_different_tokenizer_than_the_datas_is_refused(tmp_path, assets):
    other = tmp_path / "other_tok"
    shutil.copytree(assets["tokenizer"], other)
    tok = json.loads((other / "tokenizer.json").read_text())
    tok["added_tokens"][-1]["content"] += "x"  # a different tokenizer, same folder layout
    (other / "tokenizer.json").write_text(json.dumps(tok))
    cfg = recipe(tmp_path / "r.yaml", assets, tokenizer=str(other))
    line, _ = _refused("lm", "pretrain", str(cfg), "--out", str(tmp_path / "run"))
    assert "is not the one" in line and "sha256" in line
    cfg = recipe(tmp_path / "r2.yaml", assets, tokenizer=str(tmp_path / "missing_tok"))
    line, _ = _refused("lm", "pretrain", str(cfg), "--out", str(tmp_path / "run"))
    assert "tokenizer.json" in line


@pytest.mark.slow
def test_export_refuses_a_tokenizer_other_than_the_trained_one(tmp_path, assets):
    cfg = recipe(tmp_path / "r.yaml", assets, steps=1, checkpoint_every=0)
    run_cli("lm", "pretrain", str(cfg), "--out", str(tmp_path / "run"))
    other = tmp_path / "other_tok"
    shutil.copytree(assets["tokenizer"], other)
    (other / "tokenizer.json").write_text((other / "tokenizer.json").read_text().replace("<|endoftext|>", "<|eot|>"))
    line, _ = _refused("lm", "export-hf", str(tmp_path / "run"), "--out", str(tmp_path / "hf"),
                       "--tokenizer", str(other))
    assert "not the one this model was trained with" in line and not (tmp_path / "hf").exists()
    run_cli("lm", "export-hf", str(tmp_path / "run"), "--out", str(tmp_path / "hf"))
    assert (tmp_path / "hf" / "tokenizer.json").read_bytes() == (assets["tokenizer"] / "tokenizer.json").read_bytes()


def test_plan_and_dry_run(tmp_path, assets):
    out = run_cli("lm", "plan", "recipes/lm/opencoder_8b_pretrain.yaml", "--gpus", "512", "--gpu-memory", "80").stdout
    assert "steps 130000+: global batch 1024 x 8192" in out and "fits in 80 GiB" in out
    small = run_cli("lm", "plan", "recipes/lm/opencoder_8b_pretrain.yaml", "--gpus", "1", "--gpu-memory", "24").stdout
    assert "does NOT fit" in small
    cfg = recipe(tmp_path / "r.yaml", assets)
    dry = run_cli("lm", "pretrain", str(cfg), "--dry-run", "--out", str(tmp_path / "run")).stdout
    assert "tokens: 768 " in dry and "resolved config:" in dry and "peak, checkpoint none" in dry
    assert not (tmp_path / "run").exists()
