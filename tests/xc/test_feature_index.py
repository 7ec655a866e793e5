"""Feature anchors through an IVF index (``head/feature_index.py``) and W rows imprinted from feature centres."""

import pytest
import torch
import torch.nn.functional as F

from opencook.xc.head.softmax import ShardedSoftmax
from opencook.xc.train.optim import RowSparseSGD

C, D, B = 400, 8, 32
IVF = {"anchor": "feature", "feature_index": "ivf", "feature_nlist": 8}


def _batch(seed=0):
    g = torch.Generator().manual_seed(1000 + seed)  # not W's init stream (seed 0)
    return torch.randn(B, D, generator=g, requires_grad=True), torch.randint(C, (B,), generator=g)


def _exact_anchors(head, emb, k):
    rows = head.centres.for_graph() if head.centres is not None else head.weight.detach()
    return (F.normalize(emb.detach(), dim=1) @ F.normalize(rows, dim=1).t()).topk(k, dim=1).indices


@pytest.mark.parametrize("centres", ["weights", "features"])
def test_ivf_probing_every_list_finds_the_exact_anchors_also_after_rows_moved(centres):
    head = ShardedSoftmax(D, C, "knn", active_budget=120, graph_k=4, refresh_every=50, init_std=1.0,
                          logits={"kind": "cosine", "scale": 10.0},
                          selection={**IVF, "feature_nprobe": 8, "centres": centres})
    opt = RowSparseSGD(head.parameters(), lr=2.0)
    for step in range(4):  # rows move every step; the index is retrained only at step 0
        emb, labels = _batch(step)
        got, want = head._feature_anchors(emb), _exact_anchors(head, emb, 4)
        assert torch.equal(got, want), step
        opt.zero_grad()
        head(emb, labels).backward()
        opt.step()
    assert head.feature_index.trained_step == 0


def test_ivf_with_few_probes_scans_a_share_of_the_classes_and_keeps_most_anchors():
    g = torch.Generator().manual_seed(1)
    groups = F.normalize(torch.randn(40, D, generator=g), dim=1)
    rows = F.normalize(groups.repeat_interleave(10, 0) + 0.3 * torch.randn(C, D, generator=g), dim=1)
    head = ShardedSoftmax(D, C, "knn", graph_k=5, selection={**IVF, "feature_nprobe": 2})
    exact = ShardedSoftmax(D, C, "knn", graph_k=5, selection={"anchor": "feature", "feature_index": "exact"})
    with torch.no_grad():
        head.weight.copy_(rows)
        exact.weight.copy_(rows)
    emb = rows[torch.randint(C, (B,), generator=g)] + 0.1 * torch.randn(B, D, generator=g)
    got, want = head._feature_anchors(emb), exact._feature_anchors(emb)
    recall = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(got, want, strict=True)) / want.numel()
    assert 0.8 <= recall < 1.0 or torch.equal(got, want)
    assert head.feature_index._index.nprobe == 2 < head.feature_index.nlist


def test_feature_index_auto_is_exact_for_small_class_counts_and_ivf_above():
    assert ShardedSoftmax(D, C, "knn", selection={"anchor": "feature"}).feature_index is None
    assert ShardedSoftmax(D, 60_000, "knn", selection={"anchor": "feature"}).feature_index is not None
    assert ShardedSoftmax(D, 60_000, "knn").feature_index is not None  # the default anchors are features
    assert ShardedSoftmax(D, 60_000, "knn", selection={"anchor": "label"}).feature_index is None


def test_index_state_rebuilds_the_same_anchors_in_a_new_head():
    a = ShardedSoftmax(D, C, "knn", active_budget=120, graph_k=4, init_std=1.0,
                       selection={**IVF, "feature_nprobe": 2})
    opt = RowSparseSGD(a.parameters(), lr=2.0)
    for step in range(3):
        emb, labels = _batch(step)
        opt.zero_grad()
        a(emb, labels).backward()
        opt.step()
    b = ShardedSoftmax(D, C, "knn", active_budget=120, graph_k=4, init_std=1.0,
                       selection={**IVF, "feature_nprobe": 2})
    b.load_state_dict(a.state_dict())
    b.load_row_state(a.row_state())  # the feature centres (the default), checkpointed beside W
    emb, _ = _batch(9)
    assert torch.equal(a._feature_anchors(emb), b._feature_anchors(emb))
    assert torch.equal(a.feature_index.centroids, b.feature_index.centroids)


def test_imprint_turns_rows_of_first_seen_classes_to_their_samples_mean_direction_keeping_the_norm():
    head = ShardedSoftmax(D, C, "knn", active_budget=120, graph_k=4, init_std=1.0,
                          selection={"anchor": "feature", "centres": "features", "imprint": True})
    before = head.weight.detach().clone()
    emb, labels = _batch()
    head(emb, labels)
    seen = labels.unique()
    for c in seen.tolist():
        direction = F.normalize(F.normalize(emb.detach()[labels == c], dim=1).sum(0), dim=0)
        assert torch.allclose(F.normalize(head.weight[c].detach(), dim=0), direction, atol=1e-5)
        assert torch.allclose(head.weight[c].detach().norm(), before[c].norm(), atol=1e-5)
    unseen = torch.ones(C, dtype=torch.bool)
    unseen[seen] = False
    assert torch.equal(head.weight.detach()[unseen], before[unseen])
    again = head.weight.detach().clone()
    head(emb, labels)  # seen classes are not imprinted again
    assert torch.equal(head.weight.detach(), again)


def test_imprint_is_refused_without_feature_centres():
    with pytest.raises(ValueError, match="imprint"):
        ShardedSoftmax(D, C, "knn", selection={"imprint": True, "centres": "weights"})
    with pytest.raises(ValueError, match="feature_nprobe"):
        ShardedSoftmax(D, C, "knn", selection={"feature_nprobe": 0})
