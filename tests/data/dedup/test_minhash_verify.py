"""Fuzzy dedup verification: batched exact Jaccard, and chained verification past a false bucket head."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from opencook.data.dedup.minhash import FuzzyDedupConfig, stage
from opencook.data.dedup.minhash.shingles import shingles
from opencook.data.dedup.minhash.verify import ShingleSets, chain_verify, jaccard, pair_jaccard
from opencook.kit.stats import StageStats


def _sets(arrays: list[np.ndarray], ranks: list[int]) -> ShingleSets:
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    return ShingleSets(np.array(ranks, dtype=np.int64), np.concatenate(arrays), offsets)


@pytest.mark.parametrize("chunk", [1 << 23, 7])
def test_batched_pair_jaccard_equals_the_per_pair_one(chunk: int, monkeypatch) -> None:
    monkeypatch.setattr("opencook.data.dedup.minhash.verify.SMALL", 150)
    monkeypatch.setattr("opencook.data.dedup.minhash.verify.CHUNK_ELEMS", chunk)
    rng = np.random.default_rng(2)
    pool = rng.integers(0, 1 << 64, 300, dtype=np.uint64)
    arrays = [np.unique(rng.choice(pool, rng.integers(0, 120))) for _ in range(40)]
    ranks = rng.permutation(1000)[:40].tolist()
    sets = _sets(arrays, ranks)
    u = rng.choice(ranks, 500)
    v = rng.choice(ranks, 500)
    got = pair_jaccard(u, v, sets)
    expect = [jaccard(sets.get(a), sets.get(b)) for a, b in zip(u.tolist(), v.tolist(), strict=True)]
    assert np.allclose(got, expect)


def test_chain_verify_links_true_pairs_behind_a_false_head() -> None:
    x = np.arange(100, dtype=np.uint64) * np.uint64(7919)
    a = np.sort(np.r_[x, np.uint64(1)])
    b = np.sort(np.r_[x, np.uint64(2)])
    head = np.sort(np.r_[x[:40], np.arange(500, 600, dtype=np.uint64)])
    lone = np.arange(10_000, 10_050, dtype=np.uint64)
    sets = _sets([head, a, b, lone], [0, 1, 2, 3])
    u, v = np.array([1, 2, 3]), np.array([0, 0, 0])
    one = chain_verify(u, v, sets, 0.7, rounds=1)
    assert len(one[0]) == 0
    cu, cv, extra = chain_verify(u, v, sets, 0.7, rounds=4)
    assert list(zip(cu.tolist(), cv.tolist(), strict=True)) == [(2, 1)] and extra == 2  # (2,1), (3,1)


def _text(rng: random.Random, n: int) -> list[str]:
    return [f"value_{rng.randrange(10**6)} = compute_{rng.randrange(10**6)}(x, {rng.randrange(99)})"
            for _ in range(n)]


def test_false_bucket_head_does_not_hide_two_true_duplicates(tmp_path: Path) -> None:
    rng = random.Random(4)
    common, tail = _text(rng, 60), _text(rng, 10)
    a = "\n".join(common + tail)
    b = "\n".join(common + tail[:-1] + ["changed_line = 1"])
    h = "\n".join(common[:25] + _text(rng, 30))  # shares a bucket with a and b, but J < 0.7
    assert jaccard(shingles(h), shingles(a)) < 0.7 <= jaccard(shingles(a), shingles(b))
    records = [
        {"id": "h", "text": h, "repo": "r", "path": "h.py", "stars": 100, "commit_time": 1, "language": "Python"},
        {"id": "a", "text": a, "repo": "r", "path": "a.py", "stars": 10, "commit_time": 1, "language": "Python"},
        {"id": "b", "text": b, "repo": "r", "path": "b.py", "stars": 1, "commit_time": 1, "language": "Python"},
        {"id": "z", "text": "\n".join(_text(rng, 50)), "repo": "r", "path": "z.py", "stars": 0,
         "commit_time": 1, "language": "Python"},
    ]
    config = FuzzyDedupConfig(num_perm=64, bands=8, rows=8, verify_threshold=0.7)
    summary = stage.summarize(iter(records), StageStats(), config)
    # the constructed bucket: h, a and b collide in band 0 only; every other bucket is a singleton
    matrix = np.arange(1, 4 * 8 + 1, dtype=np.uint64).reshape(4, 8) * np.uint64(1_000_003)
    matrix[:3, 0] = 42
    bands = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel(), pa.uint64()), 8)
    summary = summary.set_column(summary.schema.get_field_index("bands"), "bands", bands)

    for rounds, removed in ((1, set()), (4, {"b"})):
        stats = StageStats()
        cfg = FuzzyDedupConfig(num_perm=64, bands=8, rows=8, verify_threshold=0.7, verify_rounds=rounds)
        decision = stage.decide([summary], stats, cfg, workdir=tmp_path / str(rounds))
        rows = {r["id"]: r for r in decision.to_pylist()}
        assert {i for i, r in rows.items() if r["survivor_id"] != i} == removed
        assert stats.counters["fuzzy_candidate_pairs"] == 2
        if removed:
            assert rows["b"]["survivor_id"] == "a" and rows["b"]["jaccard"] >= 0.7
            assert rows["a"]["cluster_size"] == 2 and stats.counters["fuzzy_chain_pairs"] == 1
