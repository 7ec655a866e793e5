"""Fuzzy dedup: S-curve math, MinHash behaviour, exact-Jaccard ground truth, determinism, corruption."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from opencook.data.dedup.minhash import (
    FuzzyDedupConfig,
    implied_threshold,
    optimal_bands_rows,
    p_candidate,
    stage,
)
from opencook.data.dedup.minhash.components import connected_components
from opencook.data.dedup.minhash.lsh import band_hashes
from opencook.data.dedup.minhash.shingles import shingle_batch, shingles, tokens
from opencook.data.dedup.minhash.signatures import permutations, signature_batch
from opencook.data.dedup.minhash.verify import jaccard
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner
from opencook.kit.config import ConfigError, build_config
from opencook.kit.executors import InProcessExecutor
from opencook.kit.stats import StageStats

# ------------------------------------------------------------------ math and config


def test_implied_threshold_and_s_curve_match_the_anchor_table() -> None:
    assert implied_threshold(16, 128) == pytest.approx(0.9786, abs=1e-4)
    assert implied_threshold(14, 8) == pytest.approx(0.719, abs=1e-3)
    assert float(p_candidate(0.7, 14, 8)) == pytest.approx(0.57, abs=0.01)
    assert float(p_candidate(0.8, 25, 10)) == pytest.approx(0.94, abs=0.01)
    assert float(p_candidate(0.8, 20, 13)) == pytest.approx(0.68, abs=0.01)
    assert float(p_candidate(0.9, 16, 128)) < 1e-3


def test_threshold_chooses_bands_rows_and_presets() -> None:
    b, r = optimal_bands_rows(0.7, 128)
    assert b * r <= 128 and abs(implied_threshold(b, r) - 0.7) < 0.08
    cfg = FuzzyDedupConfig(num_perm=128, threshold=0.7)
    assert (cfg.bands, cfg.rows) == (b, r) and cfg.jaccard_threshold == 0.7
    dt = FuzzyDedupConfig(preset="datatrove")
    assert (dt.ngram, dt.num_perm, dt.bands, dt.rows) == (5, 112, 14, 8)
    oc = FuzzyDedupConfig(preset="opencoder")
    assert oc.jaccard_threshold == pytest.approx(0.9786, abs=1e-4)
    with pytest.raises(ValueError, match="preset 'datatrove' sets num_perm=112"):
        FuzzyDedupConfig(preset="datatrove", num_perm=256)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        FuzzyDedupConfig(num_perm=64)
    with pytest.raises(ConfigError, match="bands x rows"):
        build_config(FuzzyDedupConfig, {"num_perm": 100, "bands": 20, "rows": 10}, "fuzzy_dedup")


# ------------------------------------------------------------------ shingles and signatures


def test_normalisation_ignores_case_and_whitespace() -> None:
    assert tokens("Foo_bar=  x1+ÉtéÀ y\n") == [b"foo_bar", b"x1", "étéà".encode(), b"y"]
    a = "def f(x):\n    return x + 1  # add one to the argument value\n"
    b = "def   f( x ) :\n\treturn x+1 #   ADD one to the argument value"
    assert np.array_equal(shingles(a), shingles(b))
    assert len(shingles("a b c")) == 1 and len(shingles("")) == 0
    assert not np.array_equal(shingles("a b c d e f"), shingles("f e d c b a"))


def test_signatures_are_chunk_independent_minima() -> None:
    texts = [" ".join(f"w{i % 97} v{(i * 7) % 13}" for i in range(n)) for n in (0, 3, 50, 2000, 1)]
    hashes, offsets = shingle_batch(texts)
    a, mask = permutations(64, 3)
    full = signature_batch(hashes, offsets, 64, seed=3)
    assert np.array_equal(full, signature_batch(hashes, offsets, 64, seed=3, chunk_elems=100))
    for d in range(len(texts)):
        x = hashes[offsets[d]:offsets[d + 1]].astype(np.uint32) ^ mask
        expect = (x[:, None] * a).min(axis=0) if len(x) else np.full(64, 0xFFFFFFFF)
        assert np.array_equal(full[d], expect)


def test_band_collisions_follow_the_s_curve() -> None:
    rng = np.random.default_rng(5)
    for s, bands, rows in ((0.7, 14, 8), (0.5, 32, 4)):
        hits = 0
        n_pairs = 400
        hashes, offsets = [], [0]
        for _ in range(n_pairs):
            common = rng.integers(0, 1 << 63, 700, dtype=np.uint64)
            extra = rng.integers(0, 1 << 63, 300, dtype=np.uint64)
            k = round(1000 * (1 - s) / (1 + s))  # |A ∩ B| / |A ∪ B| = s with |A| = |B| = 1000 - ...
            a = np.unique(np.r_[common[: 1000 - k], extra[:k]])
            b = np.unique(np.r_[common[: 1000 - k], extra[k:2 * k]])
            for h in (a, b):
                hashes.append(h)
                offsets.append(offsets[-1] + len(h))
        sig = signature_batch(np.concatenate(hashes), np.array(offsets), bands * rows, seed=1)
        bh = band_hashes(sig, bands, rows)
        hits = int((bh[0::2] == bh[1::2]).any(axis=1).sum())
        true_s = jaccard(np.sort(hashes[0]), np.sort(hashes[1]))
        expect = float(p_candidate(true_s, bands, rows))
        assert abs(hits / n_pairs - expect) < 0.08, (s, hits / n_pairs, expect)


# ------------------------------------------------------------------ components


def _python_components(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_components_match_python_union_find(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(1, 300)
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randrange(0, 2 * n))]
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    assert connected_components(n, u, v).tolist() == _python_components(n, edges)


# ------------------------------------------------------------------ ground truth on planted near-duplicates

_WORDS = [f"{p}{s}" for p in ("get", "set", "load", "parse", "make", "read", "emit", "scan")
          for s in ("_item", "_value", "Node", "_row", "Buffer", "_key", "Token", "_path")]


def _base_file(rng: random.Random, n_lines: int = 40) -> str:
    lines = []
    for _ in range(n_lines):
        w = rng.sample(_WORDS, 4)
        lines.append(f"    {w[0]} = {w[1]}({w[2]}, {rng.randrange(1000)}) + {w[3]}.x{rng.randrange(50)}")
    return "def f():\n" + "\n".join(lines) + "\n"


def _near_dup(rng: random.Random, text: str, kind: str) -> str:
    lines = text.split("\n")
    if kind == "edit":
        for i in rng.sample(range(1, len(lines) - 1), max(1, round(len(lines) * rng.uniform(0.01, 0.1)))):
            lines[i] = f"    edited_{rng.randrange(10**6)} = {rng.randrange(10**6)}"
        return "\n".join(lines)
    if kind == "rename":
        old = rng.choice([w for w in _WORDS if w in text])
        return text.replace(old, "renamed_identifier_" + str(rng.randrange(100)), 1)
    return "\n".join("\t" + " ".join(line.split()).replace("(", " ( ") for line in lines)


def _fixture(seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for g in range(25):
        base = _base_file(rng)
        texts = [base] + [_near_dup(rng, base, rng.choice(["edit", "rename", "space"]))
                          for _ in range(rng.randrange(0, 4))]
        for k, text in enumerate(texts):
            records.append({"id": f"id{g:02d}{k}", "text": text, "repo": f"repo{rng.randrange(5)}",
                            "path": f"p{g}_{k}.py", "stars": rng.choice([None, 1, 5, 9]),
                            "commit_time": rng.choice([None, 10, 20]), "language": "Python"})
    return records


def _survivor_key(r: dict) -> tuple:
    stars = -1 if r["stars"] is None else r["stars"]
    ct = -1 if r["commit_time"] is None else r["commit_time"]
    return (-stars, -ct, r["repo"], r["path"], r["id"])


def _brute_force_removed(records: list[dict], threshold: float, ngram: int = 5) -> set[str]:
    sets = [shingles(r["text"], ngram) for r in records]
    edges = [(i, j) for i, j in itertools.combinations(range(len(records)), 2)
             if jaccard(sets[i], sets[j]) >= threshold]
    labels = _python_components(len(records), edges)
    clusters: dict[int, list[dict]] = {}
    for i, lab in enumerate(labels):
        clusters.setdefault(lab, []).append(records[i])
    removed = set()
    for members in clusters.values():
        best = min(members, key=_survivor_key)
        removed |= {m["id"] for m in members if m["id"] != best["id"]}
    return removed


def _run(shards: list[list[dict]], config: FuzzyDedupConfig, tmp: Path):
    stats = StageStats()
    summaries = [stage.summarize(iter(s), stats, config) for s in shards]
    decision = stage.decide(summaries, stats, config, workdir=tmp)
    kept = [r for s in shards for r in stage.apply(iter(s), decision, stats, config)]
    removed = {r["id"] for s in shards for r in s} - {r["id"] for r in kept}
    return removed, decision, stats, kept


CONFIG = FuzzyDedupConfig(num_perm=256, bands=64, rows=4, verify_threshold=0.7)


def test_removed_set_equals_brute_force_exact_jaccard(tmp_path: Path) -> None:
    records = _fixture()
    truth = _brute_force_removed(records, 0.7)
    assert len(truth) >= 15  # the fixture does plant near-duplicates
    removed, decision, stats, kept = _run([records[0::3], records[1::3], records[2::3]], CONFIG, tmp_path)
    assert removed == truth
    rows = {r["id"]: r for r in decision.to_pylist()}
    for rid in removed:
        assert rows[rid]["jaccard"] >= 0.7 and rows[rid]["survivor_id"] != rid
    by_id = {r["id"]: r for r in kept}
    for r in decision.to_pylist():
        if r["id"] == r["survivor_id"]:
            assert by_id[r["id"]]["cluster_size"] == r["cluster_size"] > 1
            assert by_id[r["id"]]["cluster_id"] == r["id"]
    assert stats.counters["fuzzy_files_removed"] == len(truth) == stats.dropped["near_duplicate"]
    assert stats.counters["fuzzy_verified_pairs"] <= stats.counters["fuzzy_candidate_pairs"]


def test_deterministic_whatever_the_shard_split_or_order(tmp_path: Path) -> None:
    records = _fixture(3)
    removed_a, decision_a, stats_a, _ = _run([records[i::4] for i in range(4)], CONFIG, tmp_path / "a")
    shuffled = records[:]
    random.Random(9).shuffle(shuffled)
    removed_b, decision_b, stats_b, _ = _run([shuffled[:7], shuffled[7:]], CONFIG, tmp_path / "b")
    assert removed_a == removed_b and decision_a.equals(decision_b)
    assert {k: v for k, v in stats_a.counters.items()} == {k: v for k, v in stats_b.counters.items()}


def test_without_verification_candidates_are_kept_as_edges(tmp_path: Path) -> None:
    records = _fixture(4)
    cfg = FuzzyDedupConfig(num_perm=256, bands=64, rows=4, verify=False)
    removed, _, stats, _ = _run([records], cfg, tmp_path)
    assert removed >= _brute_force_removed(records, 0.9)
    assert stats.counters["fuzzy_verified_pairs"] == stats.counters["fuzzy_candidate_pairs"]


def test_corrupt_or_truncated_run_is_regenerated(tmp_path: Path) -> None:
    records = _fixture(5)
    shards = [records[0::2], records[1::2]]
    first = _run(shards, CONFIG, tmp_path)
    run = tmp_path / "work" / "run-00000.parquet"
    data = bytearray(run.read_bytes())
    data[len(data) // 2] ^= 0xFF
    run.write_bytes(bytes(data))
    second = _run(shards, CONFIG, tmp_path)
    assert second[2].counters["fuzzy_runs_regenerated"] == 1
    assert second[1].equals(first[1])
    run.write_bytes(run.read_bytes()[:100])
    third = _run(shards, CONFIG, tmp_path)
    assert third[2].counters["fuzzy_runs_regenerated"] == 1 and third[1].equals(first[1])
    assert pq.ParquetFile(run).metadata.num_rows > 0


# ------------------------------------------------------------------ through the runner


def test_stage_end_to_end_through_the_runner(repo_tree: Path, tmp_path: Path) -> None:
    recipe = {
        "name": "fz", "seed": 1,
        "stages": [
            {"ingest": {"paths": [str(repo_tree / "repos")], "layout": "repos",
                        "metadata": str(repo_tree / "meta.jsonl"), "files_per_task": 4}},
            {"exact_dedup": {}},
            {"fuzzy_dedup": {"num_perm": 128, "bands": 32, "rows": 4, "verify_threshold": 0.5}},
            {"write": {}},
        ],
    }
    out = tmp_path / "run"
    results = PipelineRunner(parse_recipe(recipe), out, InProcessExecutor()).run()
    fz = {r.name: r for r in results}["fuzzy_dedup"]
    assert fz.stats.counters["fuzzy_files_hashed"] == fz.stats.counters["in"]
    table = pq.read_table(out / "dataset").to_pylist()
    assert table and all(r["cluster_id"] == r["id"] and r["cluster_size"] >= 1 for r in table)
    assert len(table) == fz.stats.counters["in"] - fz.stats.counters.get("fuzzy_files_removed", 0)
    again = PipelineRunner(parse_recipe(recipe), out, InProcessExecutor()).run()
    assert {r.name: r for r in again}["fuzzy_dedup"].skipped > 0


def test_partitioned_merge_gives_the_same_decision(tmp_path: Path) -> None:
    records = _fixture(6)
    small = FuzzyDedupConfig(num_perm=256, bands=64, rows=4, verify_threshold=0.7, partition_rows=7)
    assert _run([records], small, tmp_path / "a")[1].equals(_run([records], CONFIG, tmp_path / "b")[1])
