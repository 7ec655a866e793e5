"""HumanEval pass@1 during training: the CLI hands ``opencook.evals`` to the trainer as an evaluator, the points
land in metrics.jsonl against tokens, and a resumed run neither repeats nor loses one. Real ``opencook lm
pretrain`` processes, real greedy generation and real sandboxed programs (a tiny random model passes nothing)."""

from __future__ import annotations

import json

import pytest

from lm_assets import build_assets, losses, recipe, run_cli
from opencook.lm.train.config import load_lm_config

EVAL = {"eval_every": 2, "steps": 5, "humaneval": {"problems": 2, "max_new_tokens": 8, "timeout_s": 5.0},
        "model": {"preset": "tiny", "overrides": {"dim": 32, "n_layers": 2, "ffn_dim": 64, "max_seq_len": 512}}}


def _evals(run):
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "eval"]


def _tokens(run):
    return {r["step"]: r["tokens_seen"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == "train"}


@pytest.mark.slow
def test_humaneval_points_are_logged_against_tokens_and_resume_keeps_them(tmp_path):
    cfg = recipe(tmp_path / "r.yaml", build_assets(tmp_path / "assets"), **EVAL)
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    run_cli("lm", "pretrain", str(cfg), "--out", str(full))
    run_cli("lm", "pretrain", str(cfg), "--out", str(resumed), "--until-step", "3")
    run_cli("lm", "pretrain", str(cfg), "--out", str(resumed))

    assert (full / "report.html").is_file()  # the report renders eval points without val_loss
    points = _evals(full)
    assert [p["step"] for p in points] == [2, 4, 5]  # every eval_every steps, and the end of the schedule
    tokens = _tokens(full)
    for p in points:
        assert p["tokens_seen"] == tokens[p["step"]] > 0
        assert p["humaneval/problems"] == 2 and p["humaneval/pass@1"] == 0.0
        assert "val_loss" not in p  # no holdout: HumanEval alone
        record = json.loads((full / "evals" / "humaneval" / f"step_{p['step']:08d}" / "results.json").read_text())
        assert record["problems_evaluated"] == 2 and record["decoding"]["greedy"]
        assert record["decoding"]["max_new_tokens"] == 8
        rows = (full / "evals" / "humaneval" / f"step_{p['step']:08d}" / "problems.jsonl").read_text().splitlines()
        samples = [s for row in map(json.loads, rows) for s in row["samples"]]
        assert [json.loads(r)["task_id"] for r in rows] == ["HumanEval/0", "HumanEval/1"]
        assert len(samples) == 2 and all(s["kind"] != "passed" and s["duration_s"] > 0 for s in samples)

    # Stopped at step 3 (no eval point there), resumed: the same points, once each, at the same tokens, and
    # greedy generation drew no random numbers, so training went on as in the uninterrupted run.
    again = _evals(resumed)
    strip = [{k: v for k, v in p.items() if k != "humaneval/generation_s"} for p in again]
    assert strip == [{k: v for k, v in p.items() if k != "humaneval/generation_s"} for p in points]
    assert losses(resumed) == losses(full)


@pytest.mark.slow
def test_humaneval_under_fsdp_generates_from_a_gathered_copy(tmp_path):
    """Under FSDP2 rank 0 generates from a full copy gathered from the shards (the sharded model's forward
    would all-gather on every rank); the other rank waits, and both carry on training."""
    cfg = recipe(tmp_path / "r.yaml", build_assets(tmp_path / "assets"), **{**EVAL, "steps": 2})
    run = tmp_path / "fsdp"
    run_cli("lm", "pretrain", str(cfg), "--out", str(run), "--nproc", "2", "--set", "parallel=fsdp")
    (point,) = _evals(run)
    assert point["step"] == 2 and point["humaneval/problems"] == 2 and point["humaneval/pass@1"] == 0.0
    rows = (run / "evals" / "humaneval" / "step_00000002" / "problems.jsonl").read_text().splitlines()
    assert len(rows) == 2 and all(json.loads(r)["samples"][0]["completion"] for r in rows)


def test_humaneval_needs_eval_every_and_a_tokenizer(tmp_path):
    paths = {"tokenizer": tmp_path / "tok", "packed": tmp_path / "packed"}
    with pytest.raises(ValueError, match="humaneval.problems needs eval_every > 0"):
        load_lm_config(recipe(tmp_path / "a.yaml", paths, humaneval={"problems": 2}))
    with pytest.raises(ValueError, match="humaneval.problems needs eval_every > 0"):
        load_lm_config(recipe(tmp_path / "b.yaml", paths, tokenizer=None, eval_every=2, humaneval={"problems": 2}))
    with pytest.raises(ValueError, match="or humaneval.problems > 0"):
        load_lm_config(recipe(tmp_path / "c.yaml", paths, eval_every=2))
    assert load_lm_config(recipe(tmp_path / "d.yaml", paths, eval_every=2, humaneval={"problems": 2})).humaneval.problems == 2
