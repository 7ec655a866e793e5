"""The run kit on real files: RunDir (config + versions, metrics truncate-on-resume, checkpoint discovery,
report) and the TrainLoop skeleton (resume, intervals, summary), with a toy trainer whose 'model' is a float."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from opencook.kit.rundir import (
    RunDir,
    commit_checkpoint,
    complete_checkpoints,
    peak_memory_mib,
    step_dir_name,
)
from opencook.kit.trainloop import TrainLoop


@dataclass
class _Inner:
    lr: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])


@dataclass
class _Cfg:
    name: str = "toy"
    inner: _Inner = field(default_factory=_Inner)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _make_ckpt(root: Path, step: int, complete: bool = True) -> Path:
    d = root / step_dir_name(step)
    d.mkdir(parents=True)
    if complete:
        (d / "COMPLETE").write_text("ok\n")
    return d


def test_config_and_versions_are_written_resolved(tmp_path):
    run = RunDir(tmp_path / "run", main=True)
    run.write_config(_Cfg())
    assert yaml.safe_load((run.path / "config.yaml").read_text()) == {
        "name": "toy", "inner": {"lr": 0.1, "betas": [0.9, 0.95]}
    }
    versions = json.loads((run.path / "versions.json").read_text())
    assert versions["python"].count(".") == 2 and "torch" in versions["packages"]
    run.write_json("model.json", {"path": Path("/x")})  # not JSON by itself: written as its str
    assert json.loads((run.path / "model.json").read_text()) == {"path": "/x"}


def test_a_rank_other_than_zero_writes_nothing(tmp_path):
    run = RunDir(tmp_path / "run", main=False)
    run.write_config(_Cfg())
    run.write_summary({"steps": 1})
    metrics = run.open_metrics(0)
    metrics.write({"kind": "train", "step": 1})
    metrics.close()
    assert run.write_report(lambda d: d / "report.html") is None
    assert not run.path.exists()


def test_resumed_metrics_drop_records_past_the_checkpoint_and_a_torn_line(tmp_path):
    run = RunDir(tmp_path, main=True)
    path = tmp_path / "metrics.jsonl"
    records = [{"kind": "train", "step": s, "loss": 1.0 / s} for s in range(1, 7)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"kind": "train", "st')
    metrics = run.open_metrics(4)
    metrics.write({"kind": "resume", "step": 4})
    metrics.write({"kind": "train", "step": 5, "loss": 0.5})
    metrics.close()
    got = _lines(path)
    assert [(r["kind"], r["step"]) for r in got] == [("train", s) for s in range(1, 5)] + [
        ("resume", 4), ("train", 5)
    ]


def test_a_fresh_start_over_an_old_log_keeps_nothing_past_step_zero(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"kind": "train", "step": 3}\n')
    RunDir(tmp_path, main=True).open_metrics(0).close()
    assert (tmp_path / "metrics.jsonl").read_text() == ""


def test_checkpoint_discovery_skips_incomplete_and_reads_the_old_folder_name(tmp_path):
    run = RunDir(tmp_path, main=True)
    assert run.latest_checkpoint() is None
    _make_ckpt(tmp_path / "ckpt", 4)  # an xc run from before the shared layout
    assert run.latest_checkpoint() == tmp_path / "ckpt" / "step_00000004"
    _make_ckpt(run.checkpoints, 2)
    _make_ckpt(run.checkpoints, 10)
    _make_ckpt(run.checkpoints, 12, complete=False)  # a crash mid-save
    (run.checkpoints / "step_00000014.tmp").mkdir()
    assert [p.name for p in run.checkpoint_dirs()] == ["step_00000002", "step_00000010"]
    assert run.latest_checkpoint() == run.checkpoints / "step_00000010"


def test_commit_checkpoint_marks_renames_and_keeps_the_newest(tmp_path):
    root = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        tmp = root / f"{step_dir_name(step)}.tmp"
        tmp.mkdir(parents=True)
        (tmp / "state.json").write_text(str(step))
        final = commit_checkpoint(tmp, root, step, keep=2)
        assert final == root / step_dir_name(step) and not tmp.exists()
    assert [p.name for p in complete_checkpoints(root)] == ["step_00000002", "step_00000003"]
    assert (root / "step_00000003" / "state.json").read_text() == "3"


def test_a_failing_report_is_a_message_not_an_error(tmp_path, capsys):
    def broken(run_dir: Path) -> Path:
        raise ValueError("no plots today")

    assert RunDir(tmp_path, main=True).write_report(broken) is None
    assert "no plots today" in capsys.readouterr().err


def test_peak_memory_is_the_process_rss_on_cpu():
    import torch

    assert 1 < peak_memory_mib(torch.device("cpu")) < 1e6


class _Toy(TrainLoop):
    """A 'model' of one float; its checkpoint is a JSON file; evaluation reports the value."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.x, self.loss, self.evals, self.saves = 1.0, math.nan, [], []

    def restore(self):
        latest = self.run.latest_checkpoint()
        if latest is None:
            return None
        state = json.loads((latest / "state.json").read_text())
        self.step, self.x = state["step"], state["x"]
        return {"kind": "resume", "step": self.step}

    def describe(self):
        return {"model.json": {"params": 1}}

    def train_step(self):
        self.x = 0.9 * self.x + 0.01 * (self.step % 3)
        self.loss = self.x * self.x
        self.step += 1

    def after_step(self, seconds):
        self.log({"kind": "train", "step": self.step, "loss": self.loss, "step_s": seconds})
        return {"loss": f"{self.loss:.3f}"}

    def evaluate(self):
        self.evals.append(self.step)
        self.log({"kind": "eval", "step": self.step, "x": self.x})

    def save(self):
        tmp = self.run.checkpoints / f"{step_dir_name(self.step)}.tmp"
        tmp.mkdir(parents=True)
        (tmp / "state.json").write_text(json.dumps({"step": self.step, "x": self.x}))
        commit_checkpoint(tmp, self.run.checkpoints, self.step, keep=2)
        self.saves.append(self.step)

    def summarize(self, wall_s, first_step):
        return {"steps": self.step, "steps_this_run": self.step - first_step, "final_loss": self.loss}

    def write_report(self, run_dir):
        out = run_dir / "report.html"
        out.write_text(f"<p>{len(_lines(run_dir / 'metrics.jsonl'))} records</p>")
        return out


def _train_curve(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in _lines(run / "metrics.jsonl") if r["kind"] == "train"}


def test_the_loop_writes_the_run_directory_and_keeps_its_intervals(tmp_path):
    toy = _Toy(tmp_path / "run")
    summary = toy.fit(_Cfg(), stop_at=7, checkpoint_every=3, eval_every=2)
    run = tmp_path / "run"
    for name in ("config.yaml", "versions.json", "model.json", "metrics.jsonl", "summary.json", "report.html"):
        assert (run / name).is_file(), name
    assert toy.evals == [2, 4, 6, 7] and toy.saves == [3, 6, 7]  # every interval, and always at the end
    assert [p.name for p in complete_checkpoints(run / "checkpoints")] == ["step_00000006", "step_00000007"]
    assert sorted(_train_curve(run)) == list(range(1, 8))
    assert summary["steps"] == summary["steps_this_run"] == 7
    assert summary["report"] == str(run / "report.html")
    assert json.loads((run / "summary.json").read_text())["steps"] == 7


def test_a_crashed_run_resumes_from_its_checkpoint_with_the_same_curve_and_no_duplicates(tmp_path):
    whole = tmp_path / "whole"
    _Toy(whole).fit(_Cfg(), stop_at=8, checkpoint_every=3)
    part = tmp_path / "part"
    _Toy(part).fit(_Cfg(), stop_at=5, checkpoint_every=3)  # checkpoints at 3 and 5
    for leftover in ("step_00000005",):  # the crash: steps 4-5 were logged, their checkpoint never finished
        (part / "checkpoints" / leftover / "COMPLETE").unlink()
    resumed = _Toy(part)
    summary = resumed.fit(_Cfg(), stop_at=8, checkpoint_every=3)
    assert summary["steps_this_run"] == 5 and resumed.saves == [6, 8]
    records = _lines(part / "metrics.jsonl")
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    assert train_steps == list(range(1, 9))  # steps 4 and 5 logged once, by the resumed run
    assert [r["step"] for r in records if r["kind"] == "resume"] == [3]
    assert _train_curve(part) == _train_curve(whole)


def test_a_rerun_of_a_finished_run_steps_no_more(tmp_path):
    _Toy(tmp_path).fit(_Cfg(), stop_at=3, checkpoint_every=0)
    again = _Toy(tmp_path)
    summary = again.fit(_Cfg(), stop_at=3, checkpoint_every=0)
    assert summary == {"steps": 3, "steps_this_run": 0, "final_loss": pytest.approx(math.nan, nan_ok=True),
                       "report": str(tmp_path / "report.html")}
    assert again.saves == [] and sorted(_train_curve(tmp_path)) == [1, 2, 3]
