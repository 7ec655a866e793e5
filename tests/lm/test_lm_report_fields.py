"""The LM report's fields are right after real runs: the data position is the one training reached, a run
started from another's weights is marked as initialised (not resumed), a real resume is marked as one, the
title is the run's name, and the closing line says how far it got."""

from __future__ import annotations

import html
import json
import re

import pytest

from lm_assets import build_assets, recipe, run_cli
from opencook.kit.report.training import load_metrics
from opencook.lm.train.report import KINDS, marks


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm_report")
    assets = build_assets(root / "assets")
    cfg = recipe(root / "pre.yaml", assets, name="tiny-pre", steps=6, checkpoint_every=3, log_every=3)
    first = run_cli("lm", "pretrain", str(cfg), "--out", str(root / "run"), "--until-step", "3")
    second = run_cli("lm", "pretrain", str(cfg), "--out", str(root / "run"))
    sft_cfg = recipe(root / "sft.yaml", assets, name="tiny-sft", init_from=str(root / "run"), steps=2,
                     data={"sources": [], "sft": str(assets["sft"]), "seq_len": 128, "global_batch": 2},
                     micro_batch=1, schedule={"warmup_steps": 0})
    sft = run_cli("lm", "sft", str(sft_cfg), "--out", str(root / "out"))
    return {"pre": root / "run", "sft": root / "out", "stdout": [first.stdout, second.stdout, sft.stdout]}


def _text(run_dir) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", (run_dir / "report.html").read_text()))


@pytest.mark.slow
def test_the_data_table_shows_what_training_consumed(runs):
    data = json.loads((runs["pre"] / "data.json").read_text())
    train = [json.loads(ln) for ln in (runs["pre"] / "metrics.jsonl").read_text().splitlines()]
    steps = max(r["step"] for r in train if r["kind"] == "train")
    assert steps == 6 and data["step"] == steps
    (source,) = data["sources"]
    assert source["consumed_tokens"] == steps * data["tokens_per_step"] > 0 and source["epochs"] > 0
    text = _text(runs["pre"])
    assert re.search(rf"consumed_tokens .*{steps * data['tokens_per_step']:,}", text, re.S)
    sft_data = json.loads((runs["sft"] / "data.json").read_text())
    assert sft_data["sources"][0]["consumed"] == 2 * 2


@pytest.mark.slow
def test_init_from_is_an_initialisation_and_a_resume_a_resume(runs):
    sft = load_metrics(runs["sft"] / "metrics.jsonl", KINDS)
    assert marks(sft.records["resume"]) == [(0.0, "initialised from run")]
    pre = load_metrics(runs["pre"] / "metrics.jsonl", KINDS)
    assert marks(pre.records["resume"]) == [(3.0, "resume")]
    sft_text, pre_text = _text(runs["sft"]), _text(runs["pre"])
    assert "initialised_from" in sft_text and "resumed_from" not in sft_text
    assert "resumed_from" in pre_text and "initialised_from" not in pre_text


@pytest.mark.slow
def test_titles_are_run_names_and_the_closing_line_reads_right(runs):
    assert "<title>opencook lm training run: tiny-pre</title>" in (runs["pre"] / "report.html").read_text()
    assert "<title>opencook lm training run: tiny-sft</title>" in (runs["sft"] / "report.html").read_text()
    first, second, sft = runs["stdout"]
    assert "stopped at step 3 of 6" in first
    assert "finished step 6 of 6" in second and "finished of" not in second
    assert "finished step 2 of 2" in sft
