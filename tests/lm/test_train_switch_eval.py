"""The sequence-length switch (data position in tokens) and validation loss during training, at toy scale,
through real ``opencook lm pretrain`` processes."""

from __future__ import annotations

import json

import pytest
import torch

from lm_assets import build_assets, losses, recipe, run_cli
from opencook.lm.data import PretrainLoader

SWITCH = {"seq_len": 16, "global_batch": 4, "switches": [{"step": 3, "seq_len": 32, "global_batch": 2}]}


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return build_assets(tmp_path_factory.mktemp("lm_switch"))


def _stream(loader, steps, layouts):
    """Every sample's inputs and targets, concatenated in the order the samples were read."""
    xs, ys = [], []
    for step in range(steps):
        loader.set_layout(*layouts(step))
        x, y = loader.next_step(0, 1)
        xs.append(x.reshape(-1))
        ys.append(y.reshape(-1))
    return torch.cat(xs), torch.cat(ys)


def test_switch_continues_the_stream_without_repeat_or_skip(assets):
    src = [(assets["packed"], 1.0)]
    switched = PretrainLoader(src, 16, 4, seed=3, unit=32)
    got = _stream(switched, 8, lambda s: (16, 4) if s < 3 else (32, 2))  # 3 x 64 + 5 x 64 tokens
    # The same 512 tokens read by a run that was at 32 x 2 from the start: an independent path to the stream.
    reference = _stream(PretrainLoader(src, 32, 2, seed=3, unit=32), 8, lambda s: (32, 2))
    assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[1])
    # An odd number of 16-token samples before the switch: 32-token samples then straddle two units, and
    # still read the stream in order (the targets stay each input's true successor in the source).
    odd = PretrainLoader(src, 16, 3, seed=3, unit=32)
    a = _stream(odd, 5, lambda s: (16, 3) if s < 1 else (32, 2))
    b = _stream(PretrainLoader(src, 16, 3, seed=3, unit=32), 9, lambda s: (16, 3))
    n = len(a[0])
    assert torch.equal(a[0], b[0][:n]) and torch.equal(a[1], b[1][:n])
    assert switched.state_dict()["per_source_tokens"] == [512]


@pytest.mark.slow
def test_resume_is_bit_identical_on_either_side_of_the_switch(tmp_path, assets):
    cfg = recipe(tmp_path / "r.yaml", assets, data=SWITCH, steps=6, checkpoint_every=1)
    full = tmp_path / "full"
    run_cli("lm", "pretrain", str(cfg), "--out", str(full))
    ref = losses(full)
    assert len(ref) == 6
    for stop in (2, 4):  # before and after the switch at step 3
        run = tmp_path / f"stop{stop}"
        run_cli("lm", "pretrain", str(cfg), "--out", str(run), "--until-step", str(stop))
        out = run_cli("lm", "pretrain", str(cfg), "--out", str(run))
        assert f"resumed at step {stop}" in out.stdout
        assert losses(run) == ref
    data = json.loads((full / "checkpoints" / "step_00000006" / "trainer.json").read_text())["data"]
    assert data["seq_len"] == 32 and data["global_batch"] == 2 and data["per_source_tokens"] == [6 * 64]
    # Changing the layout without declaring a switch is still refused.
    refused = run_cli("lm", "pretrain", str(cfg), "--out", str(tmp_path / "stop2"), "--set", "steps=7",
                      "--set", "data.switches=[]", check=False)
    assert refused.returncode != 0 and "sequence length 32 in the checkpoint, 16 now" in refused.stderr


@pytest.mark.slow
def test_validation_loss_is_logged_against_tokens_and_resume_keeps_eval_points(tmp_path, assets):
    extra = {"data": {"holdout": 0.1}, "eval_every": 2, "eval_batches": 2, "steps": 6}
    cfg = recipe(tmp_path / "r.yaml", assets, **extra)
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    run_cli("lm", "pretrain", str(cfg), "--out", str(full))
    run_cli("lm", "pretrain", str(cfg), "--out", str(resumed), "--until-step", "3")
    run_cli("lm", "pretrain", str(cfg), "--out", str(resumed))

    def evals(run):
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [(r["step"], r["tokens_seen"], r["val_loss"]) for r in recs if r.get("kind") == "eval"]

    assert [s for s, _, _ in evals(full)] == [2, 4, 6]
    assert evals(resumed) == evals(full)
    assert evals(full)[-1][2] < evals(full)[0][2]  # it learns, and the held-out loss shows it
    html = (full / "report.html").read_text()
    assert "validation loss" in html
