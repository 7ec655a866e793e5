"""Exact dedup: groups across shards, the survivor rule, determinism, empty input."""

from __future__ import annotations

import hashlib
import random

import pyarrow as pa

from opencook.data.dedup import exact
from opencook.kit.stats import StageStats


def _rec(i: int, text: str, stars: int | None = None, commit_time: int | None = None,
         repo: str = "r", path: str = "p.py") -> dict:
    return {"id": f"id{i:03d}", "text": text, "stars": stars, "commit_time": commit_time,
            "repo": repo, "path": path, "language": "Python"}


def _run(shards: list[list[dict]]) -> tuple[list[list[dict]], pa.Table, StageStats]:
    stats = StageStats()
    summaries = [exact.summarize(iter(s), stats) for s in shards]
    decision = exact.decide(summaries, stats)
    kept = [list(exact.apply(iter(s), decision, stats)) for s in shards]
    return kept, decision, stats


def _ids(kept: list[list[dict]]) -> set[str]:
    return {r["id"] for shard in kept for r in shard}


def test_groups_span_shards_and_counters() -> None:
    shards = [
        [_rec(1, "a", stars=1), _rec(2, "b"), _rec(3, "unique")],
        [_rec(4, "a", stars=9), _rec(5, "b")],
        [_rec(6, "a", stars=3)],
    ]
    kept, decision, stats = _run(shards)
    assert _ids(kept) == {"id002", "id003", "id004"}
    assert decision.num_rows == 2
    assert stats.counters["dup_groups"] == 2
    assert stats.counters["dup_files_removed"] == 3
    assert stats.counters["dup_bytes_removed"] == 3
    assert stats.counters["dup_group_size:2"] == 1
    assert stats.counters["dup_group_size:3"] == 1
    assert stats.dropped["exact_duplicate"] == 3
    by_id = {r["id"]: r for shard in kept for r in shard}
    assert by_id["id004"]["dup_count"] == 3
    assert by_id["id003"]["dup_count"] == 1
    assert by_id["id003"]["sha256"] == hashlib.sha256(b"unique").hexdigest()


def test_survivor_rule_stars_then_commit_time_then_repo_path_id() -> None:
    stars = [[_rec(1, "x", stars=5, commit_time=999)], [_rec(2, "x", stars=6, commit_time=1)]]
    assert _ids(_run(stars)[0]) == {"id002"}
    latest = [[_rec(1, "x", stars=5, commit_time=10)], [_rec(2, "x", stars=5, commit_time=20)]]
    assert _ids(_run(latest)[0]) == {"id002"}
    unknown_loses = [[_rec(1, "x", stars=None)], [_rec(2, "x", stars=0)]]
    assert _ids(_run(unknown_loses)[0]) == {"id002"}
    by_repo = [[_rec(1, "x", repo="zeta")], [_rec(2, "x", repo="alpha")]]
    assert _ids(_run(by_repo)[0]) == {"id002"}
    by_path = [[_rec(1, "x", path="b.py")], [_rec(2, "x", path="a.py")]]
    assert _ids(_run(by_path)[0]) == {"id002"}
    by_id = [[_rec(9, "x")], [_rec(3, "x")]]
    assert _ids(_run(by_id)[0]) == {"id003"}


def test_deterministic_under_shard_reordering() -> None:
    rng = random.Random(7)
    records = [_rec(i, f"t{rng.randrange(40)}", stars=rng.choice([None, 1, 2]),
                    commit_time=rng.choice([None, 5, 6]), repo=f"r{rng.randrange(3)}") for i in range(400)]
    shards = [records[i::5] for i in range(5)]
    kept_a, decision_a, stats_a = _run(shards)
    rng.shuffle(records)
    kept_b, decision_b, stats_b = _run([records[i::3] for i in range(3)])
    assert _ids(kept_a) == _ids(kept_b)
    assert len(_ids(kept_a)) == len({r["text"] for r in records})
    assert decision_a.equals(decision_b)
    assert stats_a.to_dict() == stats_b.to_dict()


def test_empty_input_and_all_unique() -> None:
    kept, decision, stats = _run([[], []])
    assert kept == [[], []]
    assert decision.num_rows == 0
    assert decision.schema == exact.DECISION_SCHEMA
    kept, decision, stats = _run([[_rec(1, "a")], [_rec(2, "b")]])
    assert decision.num_rows == 0
    assert _ids(kept) == {"id001", "id002"}
    assert stats.counters["dup_groups"] == 0


def test_histogram_buckets() -> None:
    assert [exact.group_size_bucket(n) for n in (2, 9, 10, 99, 100, 5000)] == ["2", "9", "10-99", "10-99", "100+", "100+"]
    shard = [_rec(i, "same") for i in range(12)]
    _, _, stats = _run([shard])
    assert stats.counters["dup_group_size:10-99"] == 1
    assert stats.counters["dup_files_removed"] == 11


def test_hash_with_trailing_nul_byte_is_found() -> None:
    """numpy strips trailing NULs from S32 items; the lookup must still match such a digest."""
    text = next(f"s{i}" for i in range(100000) if hashlib.sha256(f"s{i}".encode()).digest()[-1] == 0)
    kept, _, stats = _run([[_rec(1, text, stars=1)], [_rec(2, text, stars=2)]])
    assert _ids(kept) == {"id002"}
    assert stats.dropped["exact_duplicate"] == 1


def test_decide_vectorised_on_many_rows() -> None:
    n = 300_000
    digests = [hashlib.sha256(str(i % 100_000).encode()).digest() for i in range(n)]
    table = pa.table(
        {
            "sha256": pa.array(digests, type=exact.HASH_TYPE),
            "id": [f"{i:07d}" for i in range(n)],
            "stars": pa.array([i % 7 for i in range(n)], type=pa.int64()),
            "commit_time": pa.array([-1] * n, type=pa.int64()),
            "repo": ["r"] * n,
            "path": ["p"] * n,
            "nbytes": pa.array([5] * n, type=pa.int64()),
        },
        schema=exact.SUMMARY_SCHEMA,
    )
    stats = StageStats()
    decision = exact.decide([table.slice(0, n // 2), table.slice(n // 2)], stats)
    assert decision.num_rows == 100_000
    assert stats.counters["dup_group_size:3"] == 100_000
    assert stats.counters["dup_files_removed"] == 200_000
