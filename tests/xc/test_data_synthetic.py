"""SyntheticClustered: deterministic, world-size independent, hierarchical, cheap at 10M classes."""

import subprocess
import sys
import time

import pytest
import torch

from opencook.xc.data import PAD_LABEL, SyntheticClustered, SyntheticClusteredConfig


def _data(**kw) -> SyntheticClustered:
    return SyntheticClustered(SyntheticClusteredConfig(**{"num_classes": 1000, "eval_size": 300, **kw}))


def test_batches_are_deterministic_and_vary_by_step_and_seed():
    a, b = _data(), _data()
    xa, ya = a.train_batch(5, 64, 0, 1)
    xb, yb = b.train_batch(5, 64, 0, 1)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert xa.dtype == torch.float32 and ya.dtype == torch.int64 and xa.shape == (64, 64)
    assert not torch.equal(a.train_batch(6, 64, 0, 1)[1], ya)
    assert not torch.equal(_data(seed=1).train_batch(5, 64, 0, 1)[1], ya)


def test_batches_are_identical_in_another_process():
    code = (
        "from opencook.xc.data import SyntheticClustered, SyntheticClusteredConfig as C;"
        "x, y = SyntheticClustered(C(num_classes=1000, label_dist='zipf')).train_batch(3, 32, 1, 2);"
        "print(repr(x.double().sum().item()), y.tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    x, y = SyntheticClustered(SyntheticClusteredConfig(num_classes=1000, label_dist="zipf")).train_batch(
        3, 32, 1, 2
    )
    assert out.strip() == f"{x.double().sum().item()!r} {y.tolist()}"


@pytest.mark.parametrize("label_dist", ["uniform", "zipf"])
def test_rank_slices_concatenate_to_the_single_rank_batch(label_dist):
    data = _data(label_dist=label_dist)
    x1, y1 = data.train_batch(7, 48, 0, 1)
    for world in (2, 4, 3):
        parts = [data.train_batch(7, 48, r, world) for r in range(world)]
        assert torch.equal(torch.cat([p[0] for p in parts]), x1)
        assert torch.equal(torch.cat([p[1] for p in parts]), y1)


def test_uneven_global_batch_and_bad_rank_are_rejected():
    data = _data()
    with pytest.raises(ValueError, match="does not split evenly over 4 ranks"):
        data.train_batch(0, 10, 0, 4)
    with pytest.raises(ValueError, match="outside a world"):
        data.train_batch(0, 8, 2, 2)
    with pytest.raises(ValueError, match="step"):
        data.train_batch(-1, 8, 0, 1)


def test_eval_set_is_split_over_ranks_and_padded():
    data = _data(eval_size=70)
    single = list(data.eval_batches(32, 0, 1))
    assert len(single) == 3 and int((single[-1][1] == PAD_LABEL).sum()) == 26
    per_rank = [list(data.eval_batches(32, r, 2)) for r in range(2)]
    assert [len(b) for b in per_rank] == [3, 3]
    for i, (x, y) in enumerate(single):
        assert torch.equal(torch.cat([per_rank[0][i][1], per_rank[1][i][1]]), y)
        assert torch.equal(torch.cat([per_rank[0][i][0], per_rank[1][i][0]]), x)
    labels = torch.cat([y for _, y in single])
    assert int((labels >= 0).sum()) == 70
    train_labels = data.train_batch(0, 70, 0, 1)[1]
    assert not torch.equal(labels[:70], train_labels)


def test_same_group_centres_are_far_closer_than_other_groups():
    data = _data(num_classes=1600, group_size=16, group_weight=0.8)
    c = data.class_centres(torch.arange(1600))
    assert torch.allclose(c.norm(dim=1), torch.ones(1600), atol=1e-5)
    sim = c @ c.T
    group = torch.arange(1600) // 16
    same = (group[:, None] == group[None, :]) & ~torch.eye(1600, dtype=torch.bool)
    other = group[:, None] != group[None, :]
    assert sim[same].mean() > 0.5 and sim[other].mean().abs() < 0.05
    assert (sim[same].mean() - sim[other].mean()) > 0.5


def test_ten_million_classes_need_no_class_sized_table():
    start = time.perf_counter()
    data = _data(num_classes=10_000_000, input_dim=64)
    x, y = data.train_batch(123, 1024, 0, 1)
    elapsed = time.perf_counter() - start
    assert data.describe()["table_elements"] < 10_000_000 * 64 / 100
    assert 0 <= int(y.min()) and int(y.max()) < 10_000_000 and len(set(y.tolist())) > 1000
    assert x.shape == (1024, 64) and torch.isfinite(x).all()
    assert elapsed < 5.0
    ids = torch.tensor([0, 15, 16, 9_999_999])
    c = data.class_centres(ids)
    assert (c[0] @ c[1]) > (c[0] @ c[2]) + 0.3  # 0 and 15 share a group, 16 does not
    with pytest.raises(ValueError, match="class ids"):
        data.class_centres([10_000_000])


def _nearest_centre_accuracy(noise: float) -> float:
    data = _data(num_classes=500, noise=noise, eval_size=1000)
    centres = data.class_centres(torch.arange(500))
    correct = total = 0
    for x, y in data.eval_batches(500, 0, 1):
        keep = y != PAD_LABEL
        correct += int(((x @ centres.T).argmax(1)[keep] == y[keep]).sum())
        total += int(keep.sum())
    return correct / total


def test_labels_are_learnable_and_noise_makes_them_harder():
    low, high = _nearest_centre_accuracy(0.3), _nearest_centre_accuracy(2.5)
    assert low > 0.99
    assert high < low - 0.2


def test_zipf_labels_have_a_long_tail():
    y = _data(num_classes=1000, label_dist="zipf", zipf_exponent=1.0).train_batch(0, 20_000, 0, 1)[1]
    counts = torch.bincount(y, minlength=1000).sort(descending=True).values
    assert counts[0] > 0.07 * 20_000 and counts[0] > 10 * counts[50]
    uniform = torch.bincount(_data(num_classes=1000).train_batch(0, 20_000, 0, 1)[1], minlength=1000)
    assert uniform.max() < 60


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="group_weight"):
        SyntheticClusteredConfig(group_weight=1.5)
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticClusteredConfig(num_classes=0)
