"""Selection strategies inside the trainer: coverage records, the report, and resume with their state
(feature centres reshard N -> M with W; the incremental graph's snapshot rides in trainer.pt)."""

import json
import shutil

import pytest
import yaml
from test_trainer import TINY, _cli, _losses

from opencook.xc.train.config import load_train_config
from opencook.xc.train.trainer import Trainer

SELECTION = {"anchor": "mix", "uniform_share": 0.25, "logq": True, "centres": "features",
             "upkeep": "incremental", "warmup_steps": 1}


INDEXED = {"anchor": "feature", "centres": "features", "imprint": True, "feature_index": "ivf", "feature_nlist": 6,
           "feature_nprobe": 2}


def _config(path, selection=SELECTION, **top):
    values = json.loads(json.dumps(TINY))
    values["head"].update({"selection": selection, "coverage_every": 2, "coverage_rows": 16})
    values.update(top)
    path.write_text(yaml.safe_dump(values))
    return path


def test_coverage_is_logged_and_reported_and_a_resumed_run_is_bit_identical(tmp_path):
    whole = tmp_path / "whole"
    Trainer(load_train_config(_config(tmp_path / "a.yaml")), whole).train()
    records = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    gauges = [r for r in records if r["kind"] == "coverage"]
    assert [g["step"] for g in gauges] == [0, 2, 4, 6]
    assert all(0 < g["selected_mass"] <= 1 and 0 <= g["uniform_top10_recall"] <= 1 for g in gauges)
    assert any(r["kind"] == "graph" and r.get("updated") is not None for r in records)  # incremental updates ran
    assert "Coverage of the full softmax" in (whole / "report.html").read_text()
    part = tmp_path / "part"
    Trainer(load_train_config(_config(tmp_path / "b.yaml", steps=4)), part).train()
    Trainer(load_train_config(_config(tmp_path / "a.yaml")), part).train()
    assert _losses(part) == _losses(whole)


def test_indexed_feature_anchors_with_imprinting_resume_bit_identically(tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    Trainer(load_train_config(_config(tmp_path / "a.yaml", INDEXED, steps=10)), whole).train()
    Trainer(load_train_config(_config(tmp_path / "b.yaml", INDEXED, steps=4)), part).train()  # mid-interval
    Trainer(load_train_config(_config(tmp_path / "a.yaml", INDEXED, steps=10)), part).train()
    assert _losses(part) == _losses(whole)


@pytest.mark.slow
def test_feature_centres_reshard_from_two_ranks_to_one(tmp_path):
    cfg = _config(tmp_path / "c.yaml")
    two = tmp_path / "two"
    _cli(str(cfg), "--out", str(two), "--nproc", "2")
    reference = _losses(two)
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
                assert resumed[step] == reference[step], step
            else:
                assert abs(resumed[step] - reference[step]) < 1e-4, (step, resumed[step], reference[step])
