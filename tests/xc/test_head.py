"""The head in one process: sampled losses, evaluation over all classes, and the errors users hit."""

import pytest
import torch
import torch.nn.functional as F

from opencook.xc.head.config import HeadConfig
from opencook.xc.head.logits import LogitConfig
from opencook.xc.head.softmax import KNNSoftmax, init_rows

C, D, B = 300, 8, 16


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, D, generator=gen, requires_grad=True), torch.randint(C, (B,), generator=gen)


def test_random_mode_loss_is_cross_entropy_over_the_active_columns():
    head = KNNSoftmax(D, C, "random", active_budget=40, seed=3)
    emb, labels = _batch()
    loss = head(emb, labels)
    loss.backward()
    rows = head.last.local_rows
    assert rows.numel() == 40 and set(labels.tolist()) <= set(rows.tolist())
    W = head.weight.detach()[rows].clone().requires_grad_()
    e = emb.detach().clone().requires_grad_()
    ref = F.cross_entropy(e @ W.t(), torch.searchsorted(rows, labels))
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-6
    grad = head.weight.grad
    assert grad.is_sparse and set(grad.coalesce().indices()[0].tolist()) == set(rows.tolist())
    torch.testing.assert_close(grad.to_dense()[rows], W.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(emb.grad, e.grad, rtol=1e-5, atol=1e-6)


def test_knn_uses_the_graph_and_refreshes_it_on_schedule():
    head = KNNSoftmax(D, C, "knn", graph_k=5, refresh_every=3, selection={"anchor": "label", "centres": "weights"})
    emb, labels = _batch()
    head(emb, labels)
    assert head.graph.shape == (C, 5) and head.graph_step == 0
    expected = set(labels.tolist()) | set(head.graph[labels].flatten().tolist())
    assert set(head.last.local_rows.tolist()) == expected
    with torch.no_grad():
        head.weight.mul_(-1).add_(torch.randn_like(head.weight))
    head(emb, labels)
    head(emb, labels)
    assert head.graph_step == 0
    before = head.graph.clone()
    head(emb, labels)
    assert head.graph_step == 3 and not torch.equal(before, head.graph)


def test_knn_with_all_neighbours_and_random_with_rate_one_equal_full():
    emb, labels = _batch(1)
    losses = []
    # knn: the default feature anchors (imprinting off: it changes W itself) and label anchors
    for mode, opts in [("full", {}), ("knn", {"graph_k": C, "selection": {"imprint": False}}),
                       ("knn", {"graph_k": C, "selection": {"anchor": "label", "centres": "weights"}}),
                       ("random", {"sample_rate": 1.0})]:
        head = KNNSoftmax(D, C, mode, **opts)
        losses.append(head(emb, labels).item())
    assert max(losses) - min(losses) < 1e-6


def test_predict_topk_scans_every_class_in_chunks():
    head = KNNSoftmax(D, C, "full", init_std=1.0)
    emb, _ = _batch(2)
    for cosine in (False, True):
        head.config = HeadConfig(mode="full", logits=LogitConfig("cosine" if cosine else "linear"))
        W, e = head.weight.detach(), emb.detach()
        scores = F.normalize(e, dim=1) @ F.normalize(W, dim=1).t() if cosine else e @ W.t()
        got = head.predict_topk(e, k=5, chunk_rows=37)
        assert torch.equal(got, scores.topk(5, dim=1).indices)


def test_init_does_not_depend_on_sharding():
    whole = init_rows(0, 200_000, 4, 0.01, seed=5)
    assert torch.equal(torch.cat([init_rows(0, 70_001, 4, 0.01, 5), init_rows(70_001, 200_000, 4, 0.01, 5)]), whole)


@pytest.mark.parametrize("labels,error,match", [
    (torch.zeros(B, dtype=torch.int32), TypeError, "int64"),
    (torch.full((B,), C), ValueError, "out of range"),
    (torch.full((B,), -1), ValueError, "out of range"),
    (torch.zeros(B + 1, dtype=torch.long), ValueError, "match"),
])
def test_bad_labels_get_clear_errors(labels, error, match):
    head = KNNSoftmax(D, C, "full")
    with pytest.raises(error, match=match):
        head(torch.randn(B, D), labels)


def test_non_finite_embeddings_and_bad_configs_are_refused():
    head = KNNSoftmax(D, C, "full")
    emb = torch.randn(B, D)
    emb[3, 1] = float("nan")
    with pytest.raises(FloatingPointError, match="NaN"):
        head(emb, torch.zeros(B, dtype=torch.long))
    with pytest.raises(ValueError, match="embeddings"):
        head(torch.randn(B, D + 1), torch.zeros(B, dtype=torch.long))
    with pytest.raises(ValueError, match="mode"):
        KNNSoftmax(D, C, "knnn")
    with pytest.raises(ValueError, match="random mode needs"):
        KNNSoftmax(D, C, "random")
    with pytest.raises(ValueError, match="margin needs cosine"):
        KNNSoftmax(D, C, "full", logits={"margin": 0.2})
    with pytest.raises(TypeError):
        KNNSoftmax(D, C, "full", sample_rat=0.1)


def test_approximate_graph_reports_its_sampled_recall():
    head = KNNSoftmax(D, 4000, "knn", graph_k=5, graph_method="ivf", graph_recall_sample=300, init_std=1.0)
    head.refresh_graph()
    assert head.graph_build.method == "ivf" and 0.5 < head.graph_build.recall <= 1.0
    exact = KNNSoftmax(D, 4000, "knn", graph_k=5, graph_method="exact", init_std=1.0)
    exact.refresh_graph()
    from opencook.xc.graph import graph_recall

    assert abs(graph_recall(head.graph, exact.graph) - head.graph_build.recall) < 0.1
