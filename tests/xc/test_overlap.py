"""Micro-batch pipelining and side-thread selection change when work happens, never what is computed."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from test_trainer import TINY

from opencook.kit.config import ConfigError
from opencook.xc.head.softmax import KNNSoftmax
from opencook.xc.train.backbone import BackboneConfig, MLPBackbone
from opencook.xc.train.config import parse_train_config
from opencook.xc.train.overlap import HybridStep, OverlapConfig


def _grads(*modules):
    out = []
    for m in modules:
        for p in m.parameters():
            g = p.grad
            out.append(g.to_dense() if g.is_sparse else g)
    return out


LABEL = {"anchor": "label", "centres": "weights"}  # selection from labels alone: it may run on the side thread


@pytest.mark.parametrize("mode,selection", [("full", {}), ("knn", LABEL), ("knn", {}), ("random", {})])
@pytest.mark.parametrize("overlap", [OverlapConfig(4, False), OverlapConfig(3, True)])
def test_pipelined_step_equals_the_plain_forward_in_one_process(mode, selection, overlap):
    """knn with ``{}`` is the default selection (feature anchors, imprinting): chosen once from the whole
    batch's embeddings after every micro-batch's backbone, so it needs no side thread."""
    torch.manual_seed(0)
    x, y = torch.randn(24, 12), torch.randint(200, (24,))
    runs = []
    for cfg in (None, overlap):
        torch.manual_seed(1)
        backbone = MLPBackbone(12, BackboneConfig(embedding_dim=16, hidden=32))
        head = KNNSoftmax(16, 200, mode, active_budget=None if mode == "full" else 40, graph_k=4, selection=selection)
        if cfg is None:
            loss = head(backbone(x), y)
            loss.backward()
            value = loss.item()
        else:
            step = HybridStep(backbone, backbone, head, cfg)
            result = step.run(x, y)
            step.close()
            value = result.loss
            assert set(result.split) == {"compute_ms", "comm_ms", "selection_ms", "selection_hidden_ms"}
            assert result.split["comm_ms"] == 0.0  # one process: nothing to wait for
            late = mode == "knn" and selection != LABEL
            assert (result.split["selection_hidden_ms"] > 0) == (cfg.side_thread and not late)
        runs.append((value, _grads(backbone, head), head.last, head.step))
    (l0, g0, a0, s0), (l1, g1, a1, s1) = runs
    assert l1 == pytest.approx(l0, rel=1e-6)
    assert s0 == s1 == 1
    assert a0.global_size == a1.global_size
    if a0.local_rows is not None:
        assert torch.equal(a0.local_rows, a1.local_rows)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_bad_overlap_settings_fail_clearly():
    with pytest.raises(ConfigError, match="micro_batches"):
        parse_train_config({**TINY, "overlap": {"micro_batches": 0}})
    with pytest.raises(ConfigError, match="overlap"):
        parse_train_config({**TINY, "overlap": {"micro_batch": 2}})
    head = KNNSoftmax(4, 10, "full")
    backbone = torch.nn.Linear(3, 4)
    with pytest.raises(ValueError, match="cannot be split into 8 micro-batches"):
        HybridStep(backbone, backbone, head, OverlapConfig(8)).run(torch.randn(4, 3), torch.randint(10, (4,)))


def _train_two_ranks(tmp_path, name, overlap, selection):
    cfg = json.loads(json.dumps(TINY))
    cfg.update(steps=9, eval_every=0, checkpoint_every=0, overlap=overlap)
    cfg["head"]["selection"] = selection
    # cosine logits: the loss depends on each sample's target from step 1 (near-zero linear logits give
    # log(active) whatever the targets, which would hide a sample scored against the wrong class)
    cfg["head"]["logits"] = {"kind": "cosine", "scale": 30.0}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "opencook", "xc", "train", str(path), "--out", str(out),
                           "--nproc", "2"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "train"], json.loads((out / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("selection", [LABEL, {}], ids=["label", "default"])
def test_two_rank_overlapped_training_has_the_same_losses_as_the_plain_step(tmp_path, selection):
    """knn mode. Label anchors with a graph rebuild every 3 steps: the side thread selects across rebuilds
    too. The default (feature anchors, imprinting): one selection from the whole gathered batch, which
    the micro-batches' gathers must reassemble in rank order (a wrong order changes anchors and imprints)."""
    plain, plain_summary = _train_two_ranks(tmp_path, "plain", {"micro_batches": 1, "side_thread": False}, selection)
    piped, piped_summary = _train_two_ranks(tmp_path, "piped", {"micro_batches": 4, "side_thread": True}, selection)
    assert [r["step"] for r in plain] == [r["step"] for r in piped] == list(range(1, 10))
    for a, b in zip(plain, piped, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4), (a["step"], a["loss"], b["loss"])
        assert b["active_classes"] == a["active_classes"]
    assert piped_summary["top1"] == pytest.approx(plain_summary["top1"], abs=1 / 256)
    # the split is recorded: two ranks wait on collectives, and the side thread did the selecting
    assert all(r["comm_ms"] > 0 for r in plain + piped)
    assert all((r["selection_hidden_ms"] > 0) == (selection == LABEL) for r in piped)
    assert all(r["selection_hidden_ms"] == 0 for r in plain)
    for r in plain + piped:
        assert r["compute_ms"] + r["comm_ms"] + r["selection_ms"] == pytest.approx(r["step_ms"], rel=1e-6)


def test_the_step_clock_counts_ddp_s_tail_once():
    from opencook.xc.head.timing import StepClock

    clock = StepClock()
    clock.last_grad_ready = 10.0
    clock.ddp_tail(10.5)  # nothing else counted: the whole wait after the last gradient
    assert clock.comm_s == pytest.approx(0.5)
    clock.reset()
    clock.last_grad_ready, clock.comm_s, clock.last_comm_end = 10.0, 0.3, 10.3  # a blocking hook's comm
    clock.ddp_tail(10.5)
    assert clock.comm_s == pytest.approx(0.5)  # 0.3 counted by the hook + 0.2 of tail, not 0.3 + 0.5
