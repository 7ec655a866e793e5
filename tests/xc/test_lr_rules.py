"""Warm-up and the decay-on-plateau rule: exact decision points, min_lr, state round-trips, trainer resume."""

import io
import json

import pytest
import torch
import yaml

from opencook.kit.config import ConfigError
from opencook.xc.train.config import load_train_config, parse_train_config
from opencook.xc.train.lr_rules import PlateauRule, warmup_scale
from opencook.xc.train.trainer import Trainer


def test_warmup_is_linear_then_flat():
    assert [warmup_scale(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_scale(0, 0) == 1.0
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_scale(0, -1)


def test_decays_exactly_on_the_patience_th_non_improving_eval():
    rule = PlateauRule(base_lr=0.8, factor=0.5, patience=3)
    lrs = []
    for metric in [0.1, 0.2, 0.2, 0.15, 0.19, 0.3, 0.3, 0.3, 0.3]:
        decayed = rule.observe(metric)
        lrs.append((rule.lr, decayed))
    # best 0.2 after eval 2; evals 3, 4, 5 do not beat it -> decay at eval 5; 0.3 improves; 3 more ties -> decay
    assert lrs == [(0.8, False), (0.8, False), (0.8, False), (0.8, False), (0.4, True), (0.4, False), (0.4, False),
                   (0.4, False), (0.2, True)]
    assert rule.decays == 2 and rule.scale == 0.25


def test_threshold_counts_small_gains_as_no_gain():
    rule = PlateauRule(base_lr=1.0, factor=0.1, patience=2, threshold=0.05)
    for metric in [0.5, 0.52, 0.54]:
        rule.observe(metric)
    assert rule.lr == pytest.approx(0.1) and rule.best == 0.5


def test_min_lr_is_a_floor():
    rule = PlateauRule(base_lr=1.0, factor=0.1, patience=1, min_lr=0.05)
    decisions = [rule.observe(m) for m in [0.5, 0.4, 0.4, 0.4, 0.4]]
    assert decisions == [False, True, True, False, False]
    assert rule.lr == 0.05 and rule.decays == 2


def test_state_round_trips_through_torch_save_and_resumes_the_same_decisions():
    metrics = [0.1, 0.3, 0.25, 0.29, 0.31, 0.31, 0.2, 0.2, 0.2, 0.4]
    whole = PlateauRule(base_lr=0.5, factor=0.5, patience=2)
    expected = [(whole.observe(m), whole.lr) for m in metrics]
    first = PlateauRule(base_lr=0.5, factor=0.5, patience=2)
    got = [(first.observe(m), first.lr) for m in metrics[:3]]
    buf = io.BytesIO()
    torch.save({"plateau": first.state_dict()}, buf)
    buf.seek(0)
    second = PlateauRule(base_lr=0.5, factor=0.5, patience=2)
    second.load_state_dict(torch.load(buf, weights_only=True)["plateau"])
    got += [(second.observe(m), second.lr) for m in metrics[3:]]
    assert got == expected and second.state_dict() == whole.state_dict()
    with pytest.raises(ValueError, match="same optim.lr"):
        PlateauRule(base_lr=0.1).load_state_dict(whole.state_dict())
    with pytest.raises(ValueError, match="lacks"):
        PlateauRule(base_lr=0.5).load_state_dict({"lr": 0.5})


def test_bad_plateau_settings_name_the_key():
    with pytest.raises(ConfigError, match="plateau.patience"):
        parse_train_config({"optim": {"plateau": {"patience": 0}}})
    with pytest.raises(ConfigError, match="did you mean 'min_lr'"):
        parse_train_config({"optim": {"plateau": {"min_lrr": 0.1}}})
    with pytest.raises(ValueError, match="non-finite"):
        PlateauRule(base_lr=0.1).observe(float("nan"))


TINY = {
    "name": "tiny-plateau",
    "data": {"kind": "synthetic", "num_classes": 200, "input_dim": 16, "group_size": 8, "noise": 0.3,
             "eval_size": 128},
    "backbone": {"embedding_dim": 16, "hidden": 32, "layers": 1},
    "head": {"mode": "full"},
    # threshold 1.0: no eval can count as an improvement after the first, so with patience 1 every later eval decays
    "optim": {"name": "sgd", "lr": 0.2, "momentum": 0.9, "warmup_steps": 2,
              "plateau": {"enabled": True, "factor": 0.5, "patience": 1, "threshold": 1.0, "min_lr": 0.03}},
    "steps": 8, "global_batch": 32, "log_every": 1, "eval_every": 2, "eval_batch": 64,
    "checkpoint_every": 4, "keep_checkpoints": 3, "threads": 1,
}


def _train(tmp_path, out: str, **top) -> list[dict]:
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump({**TINY, **top}))
    Trainer(load_train_config(path), tmp_path / out).train()
    return [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]


def test_trainer_applies_warmup_and_plateau_and_resumes_the_rule_from_the_checkpoint(tmp_path):
    records = _train(tmp_path, "whole")
    lr = {r["step"]: r["lr"] for r in records if r["kind"] == "train"}
    # warm-up 0.1, 0.2; evals at 2 (first best), 4 (decay -> 0.1), 6 (-> 0.05), final 8 (-> 0.03 floor)
    assert [lr[s] for s in range(1, 9)] == pytest.approx([0.1, 0.2, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05])
    assert [(r["step"], r["lr"]) for r in records if r["kind"] == "lr_decay"] == [(4, 0.1), (6, 0.05), (8, 0.03)]
    part = _train(tmp_path, "part", steps=4)
    assert [r["step"] for r in part if r["kind"] == "lr_decay"] == [4]
    resumed = _train(tmp_path, "part")
    losses = {r["step"]: r["loss"] for r in records if r["kind"] == "train"}
    assert {r["step"]: r["loss"] for r in resumed if r["kind"] == "train"} == losses
    assert [r["lr"] for r in resumed if r["kind"] == "train"] == [lr[s] for s in range(1, 9)]


def test_a_checkpoint_without_rule_state_still_loads(tmp_path):
    """Checkpoints written before the rule existed have no ``extra``: they resume with a fresh rule."""
    _train(tmp_path, "old", steps=4)
    ckpt = tmp_path / "old" / "checkpoints" / "step_00000004" / "trainer.pt"
    state = torch.load(ckpt, weights_only=False)
    assert state["extra"]["plateau"]["decays"] == 1
    del state["extra"]
    torch.save(state, ckpt)
    records = _train(tmp_path, "old", steps=6)
    assert [r["step"] for r in records if r["kind"] == "resume"] == [4]
    lr = {r["step"]: r["lr"] for r in records if r["kind"] == "train"}
    assert lr[5] == pytest.approx(0.2)  # fresh rule: back at the base LR, the decay at step 4 is forgotten
