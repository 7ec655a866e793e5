"""Resume: bit-identical on the same world size, 2 ranks -> 1 rank, and a changed data layout refused.

Each run is a real ``opencook lm pretrain`` process (``--nproc 2`` is a real torchrun gloo group); a
"crash" is ``--until-step``, which stops right after a checkpoint, as a killed job's newest checkpoint does.
"""

from __future__ import annotations

import pytest
import torch

from lm_assets import build_assets, losses, recipe, run_cli
from opencook.kit.rundir import complete_checkpoints as checkpoint_dirs
from opencook.lm.train.checkpoint import load_model_for_export


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return build_assets(tmp_path_factory.mktemp("lm_assets"))


def _params(run_dir):
    model, state = load_model_for_export(run_dir)
    return {k: v.clone() for k, v in model.state_dict().items()}, state


def _same_params(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [1, 2])
def test_resume_is_bit_identical(tmp_path, assets, nproc):
    cfg = recipe(tmp_path / "r.yaml", assets)
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    run_cli("lm", "pretrain", str(cfg), "--out", str(full), "--nproc", str(nproc))
    run_cli("lm", "pretrain", str(cfg), "--out", str(resumed), "--nproc", str(nproc), "--until-step", "4")
    assert [p.name for p in checkpoint_dirs(resumed / "checkpoints")] == ["step_00000002", "step_00000004"]
    out = run_cli("lm", "pretrain", str(cfg), "--out", str(resumed), "--nproc", str(nproc))
    assert "resumed at step 4" in out.stdout
    assert losses(resumed) == losses(full)  # exact float equality, every step
    assert len(losses(full)) == 6
    (a, state_a), (b, state_b) = _params(full), _params(resumed)
    assert _same_params(a, b)
    assert state_a["data"] == state_b["data"] and state_b["step"] == 6 and state_b["world_size"] == nproc
    assert (resumed / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_two_rank_checkpoint_resumes_on_one_rank(tmp_path, assets):
    cfg = recipe(tmp_path / "r.yaml", assets)
    two, moved = tmp_path / "two", tmp_path / "moved"
    run_cli("lm", "pretrain", str(cfg), "--out", str(two), "--nproc", "2")
    run_cli("lm", "pretrain", str(cfg), "--out", str(moved), "--nproc", "2", "--until-step", "2")
    out = run_cli("lm", "pretrain", str(cfg), "--out", str(moved), "--nproc", "1")
    assert "resumed at step 2" in out.stdout and "grad accum 2" in out.stdout
    ref, got = losses(two), losses(moved)
    assert got[1] == ref[1] and got[2] == ref[2]  # written by the 2-rank run
    for step in (3, 4, 5, 6):  # same global batches; only the reduction order differs
        assert got[step] == pytest.approx(ref[step], rel=1e-5, abs=1e-6)
    (a, _), (b, state) = _params(two), _params(moved)
    assert state["world_size"] == 1
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_changed_data_layout_is_refused_unless_reset(tmp_path, assets):
    cfg = recipe(tmp_path / "r.yaml", assets)
    run = tmp_path / "run"
    run_cli("lm", "pretrain", str(cfg), "--out", str(run), "--until-step", "2")
    refused = run_cli(
        "lm",
        "pretrain",
        str(cfg),
        "--out",
        str(run),
        "--set",
        "data.global_batch=2",
        "--set",
        "micro_batch=1",
        check=False,
    )
    assert refused.returncode != 0
    assert "global batch" in refused.stderr and "--reset-data-position" in refused.stderr
    assert [p.name for p in checkpoint_dirs(run / "checkpoints")] == ["step_00000002"]  # nothing lost
    ok = run_cli(
        "lm",
        "pretrain",
        str(cfg),
        "--out",
        str(run),
        "--set",
        "data.global_batch=2",
        "--set",
        "micro_batch=1",
        "--reset-data-position",
    )
    assert "data position reset" in ok.stdout
    _, state = _params(run)
    assert state["step"] == 6 and state["data"]["global_batch"] == 2
