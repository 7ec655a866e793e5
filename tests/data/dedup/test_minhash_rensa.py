"""The rensa signature backend: an S-curve like ours, the same removed set as brute force, selectable."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from opencook.data.dedup.minhash import FuzzyDedupConfig
from opencook.data.dedup.minhash.config import p_candidate
from opencook.data.dedup.minhash.lsh import band_hashes
from opencook.data.dedup.minhash.signatures import signature_batch
from opencook.data.dedup.minhash.verify import jaccard
from opencook.kit.config import ConfigError, build_config

pytest.importorskip("rensa")

from test_minhash import _brute_force_removed, _fixture, _run  # noqa: E402


def test_backend_is_validated_and_selectable_from_a_recipe_config() -> None:
    with pytest.raises(ValueError, match="backend"):
        FuzzyDedupConfig(backend="gpu")
    assert build_config(FuzzyDedupConfig, {"backend": "rensa"}, "fuzzy_dedup").backend == "rensa"
    with pytest.raises(ConfigError):
        build_config(FuzzyDedupConfig, {"backnd": "rensa"}, "fuzzy_dedup")


def test_rensa_signatures_differ_from_numpy_but_keep_empty_files_empty() -> None:
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 1 << 63, 500, dtype=np.uint64)
    offsets = np.array([0, 200, 200, 500])
    a = signature_batch(hashes, offsets, 64, seed=3, backend="rensa")
    b = signature_batch(hashes, offsets, 64, seed=3)
    assert a.shape == b.shape == (3, 64) and a.dtype == np.uint32
    assert (a[1] == 0xFFFFFFFF).all()
    assert not np.array_equal(a[0], b[0])
    assert np.array_equal(a, signature_batch(hashes, offsets, 64, seed=3, backend="rensa"))  # deterministic


def test_rensa_band_collisions_follow_the_s_curve() -> None:
    rng = np.random.default_rng(5)
    for s, bands, rows in ((0.7, 14, 8), (0.8, 16, 128)):
        n_pairs = 300
        hashes, offsets = [], [0]
        for _ in range(n_pairs):
            common = rng.integers(0, 1 << 63, 700, dtype=np.uint64)
            extra = rng.integers(0, 1 << 63, 300, dtype=np.uint64)
            k = round(1000 * (1 - s) / (1 + s))
            for h in (np.unique(np.r_[common[: 1000 - k], extra[:k]]),
                      np.unique(np.r_[common[: 1000 - k], extra[k:2 * k]])):
                hashes.append(h)
                offsets.append(offsets[-1] + len(h))
        sig = signature_batch(np.concatenate(hashes), np.array(offsets), bands * rows, seed=1, backend="rensa")
        bh = band_hashes(sig, bands, rows)
        hits = int((bh[0::2] == bh[1::2]).any(axis=1).sum())
        true_s = jaccard(np.sort(hashes[0]), np.sort(hashes[1]))
        expect = float(p_candidate(true_s, bands, rows))
        assert abs(hits / n_pairs - expect) < 0.08, (s, hits / n_pairs, expect)
        # the per-permutation agreement estimates the Jaccard
        agree = float((sig[0::2] == sig[1::2]).mean())
        assert abs(agree - true_s) < 0.03, (true_s, agree)


def test_rensa_removed_set_equals_brute_force_exact_jaccard(tmp_path: Path) -> None:
    records = _fixture()
    truth = _brute_force_removed(records, 0.7)
    config = FuzzyDedupConfig(num_perm=256, bands=64, rows=4, verify_threshold=0.7, backend="rensa")
    removed, *_ = _run([records[0::3], records[1::3], records[2::3]], config, tmp_path)
    assert removed == truth
    shuffled = records[:]
    random.Random(9).shuffle(shuffled)
    again, *_ = _run([shuffled[:7], shuffled[7:]], config, tmp_path / "b")
    assert again == removed
