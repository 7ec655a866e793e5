import pytest
import torch

from opencook.xc.head.active_set import global_active_classes, select_active
from opencook.xc.sharding import all_shards, shard_range


def _graph(num_classes: int, k: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    g = torch.randint(num_classes - 1, (num_classes, k), generator=gen)
    return g + (g >= torch.arange(num_classes).unsqueeze(1)).long()  # never a class itself


def test_shards_are_contiguous_and_cover_all_classes():
    for c, n in [(10, 3), (7, 7), (1000, 4), (5, 1)]:
        shards = all_shards(c, n)
        assert shards[0].start == 0 and shards[-1].end == c
        assert all(a.end == b.start for a, b in zip(shards, shards[1:], strict=False))
        assert max(s.size for s in shards) - min(s.size for s in shards) <= 1
    with pytest.raises(ValueError):
        shard_range(10, 3, 3)


def test_knn_set_is_labels_plus_their_neighbours():
    c, labels = 500, torch.tensor([3, 3, 77, 499])
    graph = _graph(c, 4)
    active = global_active_classes(labels, "knn", c, graph=graph, budget=None, seed=0, step=0)
    expected = set(labels.tolist()) | set(graph[labels].flatten().tolist())
    assert set(active.tolist()) == expected
    assert torch.equal(active, active.sort().values)


@pytest.mark.parametrize("mode", ["knn", "random"])
def test_budget_pads_to_exact_size_deterministically_per_step(mode):
    c, labels, graph = 10_000, torch.randint(10_000, (64,)), _graph(10_000, 5)
    sets = [global_active_classes(labels, mode, c, graph=graph, budget=900, seed=1, step=s) for s in (5, 5, 6)]
    assert all(s.numel() == 900 and s.unique().numel() == 900 for s in sets)
    assert set(labels.tolist()) <= set(sets[0].tolist())
    assert torch.equal(sets[0], sets[1])
    assert not torch.equal(sets[0], sets[2])  # a new step draws new random classes


def test_knn_set_larger_than_budget_is_kept_whole():
    c, labels, graph = 1000, torch.arange(0, 1000, 10), _graph(1000, 8)
    active = global_active_classes(labels, "knn", c, graph=graph, budget=50, seed=0, step=0)
    assert active.numel() > 50 and set(labels.tolist()) <= set(active.tolist())


@pytest.mark.parametrize("mode", ["full", "knn", "random"])
def test_shards_partition_the_active_set_and_every_label_is_owned_once(mode):
    c, world = 101, 3
    labels, graph = torch.randint(c, (40,)), _graph(101, 3)
    parts = [select_active(labels, mode, s, graph=graph, budget=60, seed=0, step=2) for s in all_shards(c, world)]
    owners = torch.stack([(p.target_pos >= 0).long() for p in parts]).sum(0)
    assert torch.equal(owners, torch.ones_like(owners))
    for shard, part in zip(all_shards(c, world), parts, strict=True):
        rows = torch.arange(shard.size) if part.local_rows is None else part.local_rows
        here = part.target_pos >= 0
        assert torch.equal(rows[part.target_pos[here]] + shard.start, labels[here])
    if mode != "full":
        union = torch.cat([p.local_rows + s.start for p, s in zip(parts, all_shards(c, world), strict=True)])
        assert union.numel() == parts[0].global_size == union.unique().numel()
