"""The class-centre KNN graph: exact against brute force, faiss recall, config checks, one-process build."""

import pytest
import torch
import torch.nn.functional as F

from opencook.xc.graph import GraphConfig, build_class_graph, exact_knn, graph_recall, knn_rows, sample_recall
from opencook.xc.sharding import shard_range


def clustered(num_classes: int, dim: int, cluster_size: int = 50, noise: float = 1.0, seed: int = 0):
    """Normalised centres around num_classes/cluster_size random directions: neighbours are mostly
    siblings."""
    g = torch.Generator().manual_seed(seed)
    mu = F.normalize(torch.randn(max(1, num_classes // cluster_size), dim, generator=g), dim=1)
    assign = torch.randint(0, mu.shape[0], (num_classes,), generator=g)
    return F.normalize(mu[assign] + noise / dim**0.5 * torch.randn(num_classes, dim, generator=g), dim=1)


def similarities(x: torch.Tensor) -> torch.Tensor:
    x = F.normalize(x, dim=1)
    sims = x @ x.T
    sims.fill_diagonal_(float("-inf"))
    return sims


def brute_force(x: torch.Tensor, k: int):
    return similarities(x).topk(k, dim=1)


def assert_top_k(ids: torch.Tensor, x: torch.Tensor, rows: torch.Tensor | None = None) -> None:
    """``ids`` is a top-k of brute force, order included, up to float near-ties (different GEMM blocks
    round differently in the last bit, which may swap two neighbours ~1e-7 apart)."""
    sims = similarities(x)
    sims = sims if rows is None else sims[rows]
    want = sims.topk(ids.shape[1], dim=1)
    torch.testing.assert_close(sims.gather(1, ids), want.values, atol=1e-6, rtol=0)
    assert (ids.sort(1).values.diff(dim=1) > 0).all(), "a neighbour is listed twice"
    assert (ids == want.indices).all(1).float().mean() >= 0.99


@pytest.fixture(scope="module")
def big():
    return clustered(20_000, 64)


@pytest.mark.parametrize("chunks", [(1024, 32_768), (100, 333), (37, 50)])
def test_exact_equals_brute_force_topk(chunks):
    x = torch.randn(1500, 16, generator=torch.Generator().manual_seed(1)) * 3
    got = exact_knn(x, x, 7, chunk_rows=chunks[0], chunk_cols=chunks[1])
    assert got.ids.dtype == torch.int64 and got.ids.shape == (1500, 7)
    torch.testing.assert_close(got.sims, brute_force(x, 7).values)
    assert_top_k(got.ids, x)
    assert not (got.ids == torch.arange(1500)[:, None]).any(), "a class is in its own list"


def test_exact_query_subsets_by_offset_and_ids():
    x = torch.randn(900, 12, generator=torch.Generator().manual_seed(2))
    assert_top_k(exact_knn(x[300:650], x, 4, query_offset=300, chunk_rows=64, chunk_cols=100).ids, x,
                 torch.arange(300, 650))
    rows = torch.tensor([899, 0, 451, 452, 17])
    assert_top_k(exact_knn(x[rows], x, 4, query_ids=rows, chunk_cols=128).ids, x, rows)
    # without self-exclusion a normalised query's best match is itself
    assert torch.equal(exact_knn(x[:50], x, 1, exclude_self=False).ids[:, 0], torch.arange(50))


def test_graph_recall_counts_found_exact_neighbours():
    exact = torch.tensor([[1, 2, 3], [0, 2, 3]])
    assert graph_recall(exact.flip(1), exact) == 1.0
    assert graph_recall(torch.tensor([[1, 9, 8], [7, 2, 3]]), exact) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="same Q"):
        graph_recall(exact[:1], exact)


@pytest.mark.parametrize("method, extra", [("ivf", {"nprobe": 64}), ("hnsw", {"hnsw_m": 16})])
def test_faiss_recall_on_clustered_centres(big, method, extra):
    cfg = GraphConfig(k=10, method=method, **extra)
    graph = knn_rows(big, 0, big.shape[0], cfg)
    assert graph.shape == (big.shape[0], 10) and graph.dtype == torch.int64
    assert not (graph == torch.arange(big.shape[0])[:, None]).any(), "a class is in its own list"
    assert (graph >= 0).all() and (graph < big.shape[0]).all()
    assert sample_recall(graph, big, sample=1000) >= 0.95


def test_faiss_query_rows_match_the_whole_build(big):
    cfg = GraphConfig(k=5, method="ivf", nprobe=8)
    whole = knn_rows(big, 0, big.shape[0], cfg)
    assert torch.equal(knn_rows(big, 12_345, 13_000, cfg), whole[12_345:13_000])


def test_ivf_fills_rows_it_cannot_answer_exactly():
    """One probe into 40 lists of 60 points leaves nothing missing: short rows are redone exactly."""
    x = clustered(60, 8, cluster_size=60)
    graph = knn_rows(x, 0, 60, GraphConfig(k=59, method="ivf", nlist=40, nprobe=1))
    assert torch.equal(graph.sort(1).values, brute_force(x, 59).indices.sort(1).values)


def test_auto_is_exact_up_to_the_threshold_then_ivf():
    cfg = GraphConfig(exact_max_classes=1000)
    assert cfg.resolve_method(1000) == "exact" and cfg.resolve_method(1001) == "ivf"
    assert GraphConfig().resolve_method(50_000) == "exact"
    assert GraphConfig(method="hnsw").resolve_method(10) == "hnsw"
    assert GraphConfig().resolve_nlist(1_000_000) == 4000
    assert GraphConfig().resolve_nlist(100) == 2  # at least 39 training points per list


def test_build_one_process_is_exact_below_threshold():
    x = torch.randn(400, 8, generator=torch.Generator().manual_seed(4))
    graph = build_class_graph(x, shard_range(400, 0, 1), GraphConfig(k=6))
    assert_top_k(graph, x)
    ivf = build_class_graph(x, shard_range(400, 0, 1), GraphConfig(k=6, exact_max_classes=100, nprobe=1))
    assert graph_recall(ivf, graph) < 1.0, "above the threshold auto should have used IVF"


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be an integer >= 1"),
    ({"method": "exakt"}, "did you mean 'exact'"),
    ({"method": "HNSW"}, "did you mean 'hnsw'"),
    ({"nprobe": 0}, "nprobe must be"),
    ({"hnsw_m": 1}, "hnsw_m must be >= 2"),
])
def test_bad_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GraphConfig(**kwargs)


def test_bad_inputs_are_refused():
    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="lower k to at most 9"):
        build_class_graph(x, shard_range(10, 0, 1), GraphConfig(k=10))
    x[7, 2] = float("nan")
    with pytest.raises(ValueError, match=r"not finite.*\[7\]"):
        build_class_graph(x, shard_range(10, 0, 1), GraphConfig(k=3))
    with pytest.raises(ValueError, match="must be \\[5, D\\]"):
        build_class_graph(torch.randn(10, 4), shard_range(10, 0, 2), GraphConfig(k=3))
    with pytest.raises(ValueError, match="world of 2 ranks"):
        build_class_graph(torch.randn(5, 4), shard_range(10, 0, 2), GraphConfig(k=3))
