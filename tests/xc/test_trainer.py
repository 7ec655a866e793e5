"""The trainer end to end: run directory, evaluation, checkpoints, resume on the same and other world sizes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from opencook.kit.config import ConfigError
from opencook.xc.train.config import load_train_config, parse_train_config
from opencook.xc.train.trainer import Trainer

TINY = {
    "name": "tiny",
    "data": {"kind": "synthetic", "num_classes": 300, "input_dim": 16, "group_size": 8, "noise": 0.3,
             "eval_size": 256},
    "backbone": {"embedding_dim": 32, "hidden": 64, "layers": 2},
    "head": {"mode": "knn", "active_budget": 80, "graph_k": 5, "refresh_every": 3},
    "optim": {"name": "sgd", "lr": 0.2, "momentum": 0.9},
    "steps": 8, "global_batch": 64, "log_every": 1, "eval_every": 4, "eval_batch": 128,
    "checkpoint_every": 4, "keep_checkpoints": 2,
}


def _config(path: Path, **changes) -> Path:
    values = json.loads(json.dumps(TINY))
    for dotted, value in changes.items():
        node = values
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(values))
    return path


def _losses(run: Path) -> dict[int, float]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if r["kind"] == "train"}


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "opencook", "xc", "train", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def test_a_run_writes_its_directory_and_learns(tmp_path):
    cfg = load_train_config(_config(tmp_path / "c.yaml", steps=24, eval_every=12, checkpoint_every=8))
    summary = Trainer(cfg, tmp_path / "run").train()
    run = tmp_path / "run"
    for name in ("config.yaml", "versions.json", "dataset.json", "metrics.jsonl", "summary.json", "report.html"):
        assert (run / name).is_file(), name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    kinds = {r["kind"] for r in records}
    assert {"train", "eval"} <= kinds
    assert "graph" not in kinds  # the default selection (feature anchors) builds no class graph
    losses = _losses(run)
    assert sum(losses[s] for s in range(20, 25)) < sum(losses[s] for s in range(1, 6))
    evals = [r for r in records if r["kind"] == "eval"]
    assert evals[-1]["eval_samples"] == 256 and summary["top1"] == evals[-1]["top1"]
    assert summary["top5"] >= summary["top1"] > 1 / 300  # better than chance over all classes
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000016", "step_00000024"]


def test_rerun_resumes_and_continues_bit_identically(tmp_path):
    whole = tmp_path / "whole"
    Trainer(load_train_config(_config(tmp_path / "a.yaml")), whole).train()
    part = tmp_path / "part"
    Trainer(load_train_config(_config(tmp_path / "b.yaml", steps=4)), part).train()
    Trainer(load_train_config(_config(tmp_path / "a.yaml")), part).train()
    assert _losses(part) == _losses(whole)
    records = [json.loads(line) for line in (part / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "resume"] == [4]


@pytest.mark.slow
def test_two_rank_checkpoint_resumes_on_two_and_on_one_rank(tmp_path):
    # AdamW: its row-shaped state (two moments, per-row step counts) must be re-cut with W's rows
    cfg = _config(tmp_path / "c.yaml", optim__name="adamw", optim__lr=0.01)
    two = tmp_path / "two"
    out = _cli(str(cfg), "--out", str(two), "--nproc", "2").stdout
    assert "2 rank(s)" in out and "top-1" in out
    reference = _losses(two)
    assert sorted(reference) == list(range(1, 9))
    for world in (2, 1):
        run = tmp_path / f"resume_on_{world}"
        shutil.copytree(two, run)
        shutil.rmtree(run / "checkpoints" / "step_00000008")
        lines = (run / "metrics.jsonl").read_text().splitlines()
        (run / "metrics.jsonl").write_text("".join(f"{line}\n" for line in lines if json.loads(line)["step"] <= 4))
        _cli(str(cfg), "--out", str(run), "--nproc", str(world))
        resumed = _losses(run)
        for step in range(5, 9):
            if world == 2:
                assert resumed[step] == reference[step], step  # same ranks: bit-identical
            else:
                assert abs(resumed[step] - reference[step]) < 1e-4, (step, resumed[step], reference[step])


def test_config_typos_and_bad_values_fail_before_training(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'global_batch'"):
        parse_train_config({"global_bach": 64})
    with pytest.raises(ConfigError, match="head"):
        parse_train_config({"head": {"mode": "knnn"}})
    with pytest.raises(ConfigError, match="did you mean 'num_classes'"):
        parse_train_config({"data": {"kind": "synthetic", "num_clases": 10}})
    with pytest.raises(ConfigError, match="did you mean 'funcnames'"):
        parse_train_config({"data": {"kind": "funcname"}})
    with pytest.raises(ConfigError, match="steps"):
        parse_train_config({"steps": 0})
    with pytest.raises(ConfigError, match="no such config"):
        load_train_config(tmp_path / "missing.yaml")


def test_cli_reports_a_config_typo_before_launching_ranks(tmp_path):
    cfg = _config(tmp_path / "c.yaml")
    proc = subprocess.run([sys.executable, "-m", "opencook", "xc", "train", str(cfg), "--nproc", "2",
                           "--set", "head.graph_kk=3", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown key 'graph_kk'; did you mean 'graph_k'?" in proc.stderr
    assert "torch.distributed" not in proc.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("recipe", sorted(Path(__file__).resolve().parents[2].joinpath("recipes", "xc").glob("*.yaml")))
def test_shipped_xc_recipes_parse(recipe):
    cfg = load_train_config(recipe)
    assert cfg.steps >= 1 and cfg.data["kind"] in ("synthetic", "funcnames")
