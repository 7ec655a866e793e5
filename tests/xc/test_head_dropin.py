"""``ShardedSoftmax`` as a drop-in module: the package's names, micro-batch forward, per-head clocks,
and a plain DDP loop on a real 2-rank gloo group."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from opencook.xc.head import KNNSoftmax, ShardedSoftmax, StepClock
from xc_launch import torchrun

C, D, B = 300, 8, 24
OPTS = {"full": {}, "knn": {"active_budget": 40, "graph_k": 4}, "random": {"active_budget": 40}}


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, D, generator=gen), torch.randint(C, (B,), generator=gen)


def _run(mode, emb, labels, split=None, **kwargs):
    head = ShardedSoftmax(D, C, mode, init_std=0.5, **OPTS[mode])
    e = emb.clone().requires_grad_()
    loss = head(e if split is None else split(e), labels, **kwargs)
    loss.backward()
    grad = head.weight.grad
    return loss.item(), e.grad, grad.to_dense() if grad.is_sparse else grad, head


@pytest.mark.parametrize("mode", ["full", "knn", "random"])
@pytest.mark.parametrize("split", [lambda e: list(e.split([5, 11, 8])), lambda e: (c for c in e.chunk(4))],
                         ids=["list", "generator"])
def test_micro_batch_forward_equals_the_full_batch_forward(mode, split):
    emb, labels = _batch()
    loss, e_grad, w_grad, whole = _run(mode, emb, labels)
    m_loss, m_e_grad, m_w_grad, micro = _run(mode, emb, labels, split)
    assert m_loss == pytest.approx(loss, rel=1e-6)
    torch.testing.assert_close(m_e_grad, e_grad, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(m_w_grad, w_grad, rtol=1e-5, atol=1e-7)
    assert micro.step == whole.step == 1 and micro.last.global_size == whole.last.global_size


def test_micro_batches_that_do_not_match_the_labels_fail_clearly():
    emb, labels = _batch()
    head = ShardedSoftmax(D, C, "full")
    with pytest.raises(ValueError, match="hold 16 samples but labels has 24"):
        head(list(emb[:16].chunk(2)), labels)
    with pytest.raises(ValueError, match="more than the 24 samples"):
        head([emb, emb[:1]], labels)
    with pytest.raises(ValueError, match="no micro-batches"):
        head([], labels)
    with pytest.raises(ValueError, match=f"embeddings must be \\[batch, {D}\\]"):
        head([emb[:, :3]], labels)


def test_two_heads_with_separate_clocks_do_not_mix_timings():
    emb, labels = _batch()
    mine = StepClock()
    label = {**OPTS["knn"], "selection": {"anchor": "label", "centres": "weights"}}  # selects on the side thread
    timed = ShardedSoftmax(D, C, "knn", clock=mine, **label)
    other = ShardedSoftmax(D, C, "knn", **label)
    assert timed.clock is mine and other.clock is not mine
    with ThreadPoolExecutor(1) as pool:
        timed(list(emb.chunk(3)), labels, select_on=pool).backward()
    assert mine.selection_s > 0 and mine.selection_hidden_s > 0  # the graph build and the side thread
    assert other.clock.selection_s == other.clock.selection_hidden_s == 0.0
    other(emb, labels)
    assert other.clock.selection_s > 0 and other.clock.selection_hidden_s == 0.0
    mine.reset()
    other(emb, labels)
    assert mine.selection_s == 0.0


def test_the_package_exports_resolve_lazily_and_knnsoftmax_is_an_alias():
    assert KNNSoftmax is ShardedSoftmax
    code = "import sys, opencook.xc.head as h; assert 'torch' not in sys.modules; h.ShardedSoftmax; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_a_graph_build_is_a_typed_record_with_the_metrics_keys():
    head = ShardedSoftmax(D, C, "knn", graph_k=5, selection={"anchor": "label"})
    head(*_batch())
    build = head.graph_build
    assert (build.method, build.step, build.k, build.recall) == ("exact", 0, 5, 1.0)
    assert head.graph is build.graph and head.graph_step == 0
    assert list(build.metrics()) == ["build_s", "k", "method", "recall"]
    with pytest.raises(AttributeError):
        build.step = 3  # frozen: a record of what was built


@pytest.mark.slow
def test_sharded_softmax_in_a_plain_ddp_loop_on_two_ranks_trains_like_one_process(tmp_path):
    reports = torchrun("ddp_dropin.py", 2, tmp_path)
    for r, rep in enumerate(reports):
        for case in ("full", "knn_all_neighbours", "full_micro_batches"):
            d = rep[case]
            assert d["loss_diff"] < 1e-5 and d["weight_diff"] < 1e-5, (r, case, d)
            assert d["last_loss"] < d["first_loss"], (r, case, d)
        c = rep["clocks"]
        assert c["a_is_own"] and c["b_distinct"]
        assert c["a_comm_s"] > 0 and c["b_comm_s"] == 0.0  # a's collectives went to a's clock only
        assert c["b_comm_s_after_b"] > 0 and c["a_comm_s_after_b"] == c["a_comm_s"]
    assert reports[0]["full"]["first_loss"] == reports[1]["full"]["first_loss"]  # the global-batch mean
