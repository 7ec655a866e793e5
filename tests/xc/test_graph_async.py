"""The graph rebuilt on a side thread (``head.graph_lag``): installed at a fixed step, from the centres of
the step that started it, and checkpointed mid-build so a resumed run switches graphs at the same steps."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from test_trainer import TINY, _config, _losses

from opencook.kit.config import ConfigError
from opencook.xc.graph import GraphConfig, build_class_graph
from opencook.xc.head.softmax import KNNSoftmax
from opencook.xc.train.config import load_train_config, parse_train_config
from opencook.xc.train.trainer import Trainer

C, D, B = 300, 8, 16
LABEL = {"anchor": "label", "centres": "weights"}  # the class graph is what label anchors select from


def test_a_lagged_rebuild_uses_the_due_steps_centres_and_lands_l_steps_later():
    torch.manual_seed(0)
    head = KNNSoftmax(D, C, "knn", graph_k=5, refresh_every=3, graph_lag=2, selection=LABEL)
    emb, labels = torch.randn(B, D), torch.randint(C, (B,))
    history, snapshot, graph_at_5 = [], None, None
    for step in range(9):
        if step == 3:
            snapshot = head.weight.detach().clone()
        head(emb, labels)
        history.append((head.step - 1, head.graph_step))
        if step == 5:
            graph_at_5 = head.graph.clone()
        with torch.no_grad():  # move the centres every step, so graphs of different steps differ
            head.weight.add_(0.5 * torch.randn_like(head.weight))
    # the graph in use at each step: built at 0, rebuilt from step 3's centres and used from step 5, ...
    assert history == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 3), (6, 3), (7, 3), (8, 6)]
    from_step_3 = build_class_graph(snapshot, head.shard, GraphConfig(k=5, method="exact"))
    from_last_step = build_class_graph(head.weight.detach(), head.shard, GraphConfig(k=5, method="exact"))
    assert torch.equal(graph_at_5, from_step_3) and not torch.equal(graph_at_5, from_last_step)
    head._pool.shutdown()


def test_graph_lag_must_be_shorter_than_the_refresh_interval():
    with pytest.raises(ConfigError, match="graph_lag"):
        parse_train_config({**TINY, "head": {**TINY["head"], "graph_lag": 3}})  # refresh_every is 3


def test_a_run_resumed_while_a_graph_was_building_matches_the_uninterrupted_run(tmp_path):
    # refresh every 3, lag 2: builds start at 3 and 6, land at 5 and 8; the checkpoint at 4 holds one in flight
    changes = {"head__graph_lag": 2, "head__selection": LABEL, "checkpoint_every": 4, "steps": 9}
    whole = tmp_path / "whole"
    Trainer(load_train_config(_config(tmp_path / "a.yaml", **changes)), whole).train()
    part = tmp_path / "part"
    Trainer(load_train_config(_config(tmp_path / "b.yaml", **{**changes, "steps": 4})), part).train()
    Trainer(load_train_config(_config(tmp_path / "a.yaml", **changes)), part).train()
    assert _losses(part) == _losses(whole)
    graphs = [json.loads(x)["step"] for x in (whole / "metrics.jsonl").read_text().splitlines()
              if json.loads(x)["kind"] == "graph"]
    assert graphs == [0, 5, 8]


@pytest.mark.slow
def test_two_ranks_build_the_graph_on_a_side_group_while_training(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "steps": 9, "eval_every": 0, "checkpoint_every": 0,
                                   "head": {**TINY["head"], "graph_lag": 2, "selection": LABEL},
                                   "overlap": {"micro_batches": 2, "side_thread": True}}))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "opencook", "xc", "train", str(cfg), "--out", str(out),
                           "--nproc", "2"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "graph"] == [0, 5, 8]
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 10))
