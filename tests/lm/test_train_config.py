"""Recipes fail before launch: typos, impossible batch layouts, a phase without its inputs."""

from __future__ import annotations

import pytest
import yaml

from opencook.kit.config import ConfigError
from opencook.lm.train.config import load_lm_config

BASE = {"data": {"sources": [{"path": "p"}], "global_batch": 8}, "steps": 10, "micro_batch": 2}


def _write(tmp_path, values):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_overrides_and_phase_from_the_subcommand(tmp_path):
    cfg = load_lm_config(_write(tmp_path, BASE), "pretrain", {"optim.lr": 1e-3, "data.seq_len": 64})
    assert cfg.optim.lr == 1e-3 and cfg.data.seq_len == 64 and cfg.schedule_kind == "wsd"
    assert cfg.grad_accum(1) == 4 and cfg.grad_accum(2) == 2 and cfg.grad_accum(4) == 1


def test_typo_is_named_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'micro_batch'"):
        load_lm_config(_write(tmp_path, {**BASE, "micro_bach": 2}), "pretrain")
    with pytest.raises(ConfigError, match="optim.*did you mean 'lr'"):
        load_lm_config(_write(tmp_path, BASE), "pretrain", {"optim.lrr": 1.0})


def test_global_batch_must_split_over_ranks_and_micro_batches(tmp_path):
    cfg = load_lm_config(_write(tmp_path, BASE), "pretrain")
    with pytest.raises(ConfigError, match="not a multiple of world_size \\(3\\)"):
        cfg.grad_accum(3)


@pytest.mark.parametrize(
    ("phase", "values", "message"),
    [
        ("sft", BASE, "needs data.sft"),
        ("anneal", BASE, "needs init_from"),
        ("pretrain", {**BASE, "epochs": 1.0}, "exactly one of steps"),
        ("pretrain", {**BASE, "data": {"sources": []}}, "needs data.sources"),
        ("pretrain", {**BASE, "data": {"sources": [{"path": "p", "weight": 0}]}}, "weight must be > 0"),
    ],
)
def test_phase_requirements(tmp_path, phase, values, message):
    with pytest.raises(ConfigError, match=message):
        load_lm_config(_write(tmp_path, values), phase)
