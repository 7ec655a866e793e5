"""LARS/LAMB against hand-computed updates, their exclusions and edge cases, and an xc run with optim.name=lars."""

import json
import math

import pytest
import torch
import yaml

from opencook.xc.train.config import OptimConfig, load_train_config
from opencook.xc.train.large_batch import LAMB, LARS, split_decay_groups
from opencook.xc.train.optim import RowSparseAdamW, RowSparseSGD
from opencook.xc.train.trainer import Trainer, make_optimizer


def _param(values) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))


def test_lars_first_step_matches_the_hand_computed_trust_ratio():
    # w = [3, 4] (norm 5); g + wd*w = [0.3, 0.4] + 0.1*[3, 4] = [0.6, 0.8] (norm 1); trust = 0.1 * 5 / 1 = 0.5
    w = _param([[3.0, 4.0]])
    opt = LARS([w], lr=1.0, momentum=0.9, weight_decay=0.1, trust_coefficient=0.1)
    w.grad = torch.tensor([[0.3, 0.4]], dtype=torch.float64)
    opt.step()
    assert torch.allclose(w.detach(), torch.tensor([[2.7, 3.6]], dtype=torch.float64))


def _lars_reference(w, grads, lr, mom, wd, eta):
    """LARS written out in float64 with Python floats: d = g + wd w; buf = mom buf + eta |w|/|d| d; w -= lr buf."""
    w = [float(x) for x in w]
    buf = [0.0] * len(w)
    for g in grads:
        d = [gi + wd * wi for gi, wi in zip(g, w, strict=True)]
        trust = eta * math.sqrt(sum(x * x for x in w)) / math.sqrt(sum(x * x for x in d))
        buf = [mom * b + trust * di for b, di in zip(buf, d, strict=True)]
        w = [wi - lr * b for wi, b in zip(w, buf, strict=True)]
    return w


def _lamb_reference(w, grads, lr, b1, b2, eps, wd, eta):
    w = [float(x) for x in w]
    m, v = [0.0] * len(w), [0.0] * len(w)
    for t, g in enumerate(grads, start=1):
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g, strict=True)]
        u = [(mi / (1 - b1 ** t)) / (math.sqrt(vi / (1 - b2 ** t)) + eps) + wd * wi
             for mi, vi, wi in zip(m, v, w, strict=True)]
        trust = eta * math.sqrt(sum(x * x for x in w)) / math.sqrt(sum(x * x for x in u))
        w = [wi - lr * trust * ui for wi, ui in zip(w, u, strict=True)]
    return w


GRADS = [[0.5, -1.0, 0.25, 2.0], [-0.3, 0.7, 1.5, -0.2], [1.0, 1.0, -1.0, 0.1]]
W0 = [1.0, -2.0, 0.5, 3.0]


def _run(opt_cls, **kw):
    w = _param([W0[:2], W0[2:]])  # 2-D, so it is adapted
    opt = opt_cls(split_decay_groups([w]), **kw)
    for g in GRADS:
        w.grad = torch.tensor([g[:2], g[2:]], dtype=torch.float64)
        opt.step()
    return w.detach().flatten().tolist()


def test_lars_steps_with_momentum_match_the_reference():
    got = _run(LARS, lr=2.0, momentum=0.9, weight_decay=0.01, trust_coefficient=0.02)
    assert got == pytest.approx(_lars_reference(W0, GRADS, 2.0, 0.9, 0.01, 0.02), rel=1e-12, abs=1e-12)


def test_lamb_first_step_by_hand_and_moments_match_the_reference():
    # step 1: m_hat = g, v_hat = g^2, so adam = g / (|g| + eps) ~ sign(g) = [1, -1]; u = [1, -1] + 0.1 * [3, 4]
    w = _param([[3.0, 4.0]])
    opt = LAMB([w], lr=0.1, eps=1e-12, weight_decay=0.1)
    w.grad = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    opt.step()
    trust = 5 / math.sqrt(1.3 ** 2 + 0.6 ** 2)
    assert w.detach().flatten().tolist() == pytest.approx([3 - 0.1 * trust * 1.3, 4 + 0.1 * trust * 0.6], rel=1e-9)
    got = _run(LAMB, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.02, trust_coefficient=0.5)
    assert got == pytest.approx(_lamb_reference(W0, GRADS, 0.05, 0.8, 0.95, 1e-6, 0.02, 0.5), rel=1e-12, abs=1e-12)


def test_biases_and_norm_gains_get_plain_updates_without_decay():
    """1-D tensors: LARS is torch's momentum SGD and LAMB is torch's Adam, both with no weight decay."""
    gen = torch.Generator().manual_seed(0)
    init, grads = torch.randn(5, generator=gen), [torch.randn(5, generator=gen) for _ in range(4)]
    for ours, theirs in ((lambda p: LARS(p, lr=0.3, momentum=0.9, weight_decay=0.5, trust_coefficient=0.01),
                          lambda p: torch.optim.SGD(p, lr=0.3, momentum=0.9)),
                         (lambda p: LAMB(p, lr=0.1, weight_decay=0.5),
                          lambda p: torch.optim.Adam(p, lr=0.1, eps=1e-6))):
        a, b = torch.nn.Parameter(init.clone()), torch.nn.Parameter(init.clone())
        opt_a, opt_b = ours([a]), theirs([b])
        for g in grads:
            a.grad, b.grad = g.clone(), g.clone()
            opt_a.step()
            opt_b.step()
        assert torch.allclose(a, b, atol=1e-6), (a, b)
    bias, weight = torch.zeros(3), torch.zeros(3, 2)
    assert [g["adapt"] for g in split_decay_groups([bias, weight])] == [True, False]
    assert split_decay_groups([bias, weight])[0]["params"][0] is weight


@pytest.mark.parametrize("opt_cls", [LARS, LAMB])
def test_zero_weight_or_zero_gradient_gives_finite_updates(opt_cls):
    zero_w = torch.nn.Parameter(torch.zeros(2, 3))
    zero_g = torch.nn.Parameter(torch.ones(2, 3))
    opt = opt_cls([zero_w, zero_g], lr=0.1, weight_decay=0.0)
    zero_w.grad, zero_g.grad = torch.full((2, 3), 0.5), torch.zeros(2, 3)
    opt.step()
    assert torch.isfinite(zero_w).all() and torch.isfinite(zero_g).all()
    assert not torch.equal(zero_w, torch.zeros(2, 3))  # trust ratio 1: a zero layer can still start moving
    assert torch.equal(zero_g, torch.ones(2, 3))  # nothing to apply


def test_bad_settings_and_sparse_gradients_are_refused():
    with pytest.raises(ValueError, match="trust_coefficient"):
        LARS([torch.nn.Parameter(torch.ones(2, 2))], lr=0.1, trust_coefficient=0.0)
    with pytest.raises(ValueError, match="LAMB"):
        LAMB([torch.nn.Parameter(torch.ones(2, 2))], betas=(1.0, 0.9))
    p = torch.nn.Parameter(torch.ones(4, 2))
    p.grad = torch.sparse_coo_tensor(torch.tensor([[1]]), torch.ones(1, 2), (4, 2), check_invariants=True)
    with pytest.raises(ValueError, match="row-sparse optimizer"):
        LARS([p], lr=0.1).step()
    with pytest.raises(ValueError, match="trust_coefficient"):
        OptimConfig(name="lars", trust_coefficient=-1.0)


def test_make_optimizer_gives_lars_lamb_to_the_backbone_and_row_sparse_to_the_head():
    layer = torch.nn.Linear(3, 2)
    for name, backbone_cls, head_cls in (("lars", LARS, RowSparseSGD), ("lamb", LAMB, RowSparseAdamW)):
        cfg = OptimConfig(name=name, weight_decay=0.1)
        backbone = make_optimizer(layer.parameters(), cfg, 0.5)
        head = make_optimizer(layer.parameters(), cfg, 0.5, head=True)
        assert type(backbone) is backbone_cls and type(head) is head_cls
        assert backbone.param_groups[0]["trust_coefficient"] == {"lars": 0.001, "lamb": 1.0}[name]


TINY = {
    "name": "tiny-lars",
    "data": {"kind": "synthetic", "num_classes": 300, "input_dim": 16, "group_size": 8, "noise": 0.3,
             "eval_size": 256},
    "backbone": {"embedding_dim": 32, "hidden": 64, "layers": 2},
    "head": {"mode": "knn", "active_budget": 200, "graph_k": 5, "refresh_every": 3},
    "optim": {"name": "lars", "lr": 2.0, "head_lr": 0.2, "momentum": 0.9, "trust_coefficient": 0.001,
              "warmup_steps": 3},
    "steps": 24, "global_batch": 64, "log_every": 1, "eval_every": 12, "eval_batch": 128,
    "checkpoint_every": 12, "keep_checkpoints": 2, "threads": 1,
}


def _train(tmp_path, out: str, **top) -> dict[int, float]:
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump({**TINY, **top}))
    Trainer(load_train_config(path), tmp_path / out).train()
    records = [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if r["kind"] == "train"}


def test_an_xc_run_with_lars_learns_and_resumes_bit_identically(tmp_path):
    whole = _train(tmp_path, "whole")
    assert sum(whole[s] for s in range(20, 25)) < 0.95 * sum(whole[s] for s in range(1, 6))
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["top1"] > 3 / 300  # well above chance over all classes
    _train(tmp_path, "part", steps=12)
    resumed = _train(tmp_path, "part")
    assert resumed == whole
