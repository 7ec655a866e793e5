"""Sampling: ratios honoured, seeded, independent of order, edges and validation."""

from __future__ import annotations

import pytest

from opencook.data.sample import Sample, SampleConfig
from opencook.kit.stats import StageStats


def _records(n: int, language: str = "HTML") -> list[dict]:
    return [{"id": f"{language}-{i}", "language": language, "text": "<p>x</p>"} for i in range(n)]


def _kept_ids(config: SampleConfig, records: list[dict], stats: StageStats | None = None) -> set[str]:
    return {r["id"] for r in Sample(config).process(iter(records), stats or StageStats())}


def test_ratio_honoured_and_other_languages_untouched() -> None:
    records = _records(10_000) + _records(500, "Python")
    stats = StageStats()
    kept = _kept_ids(SampleConfig(), records, stats)
    html = sum(k.startswith("HTML") for k in kept)
    assert abs(html / 10_000 - 64 / 474) < 0.015
    assert sum(k.startswith("Python") for k in kept) == 500
    assert stats.dropped["sample:HTML"] == 10_000 - html
    assert stats.by_language["HTML"]["files"] == html


def test_seed_changes_selection_and_is_deterministic() -> None:
    records = _records(2000)
    a = _kept_ids(SampleConfig(ratios={"HTML": 0.5}, seed=1), records)
    b = _kept_ids(SampleConfig(ratios={"HTML": 0.5}, seed=1), list(reversed(records)))
    c = _kept_ids(SampleConfig(ratios={"HTML": 0.5}, seed=2), records)
    assert a == b
    assert a != c
    halves = _kept_ids(SampleConfig(ratios={"HTML": 0.5}, seed=1), records[:1000]) | _kept_ids(
        SampleConfig(ratios={"HTML": 0.5}, seed=1), records[1000:]
    )
    assert halves == a


def test_zero_and_one() -> None:
    records = _records(1000)
    assert _kept_ids(SampleConfig(ratios={"HTML": 0.0}), records) == set()
    assert len(_kept_ids(SampleConfig(ratios={"HTML": 1}), records)) == 1000


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5", True])
def test_invalid_ratio_names_the_language(bad: object) -> None:
    with pytest.raises(ValueError, match="'Java'"):
        SampleConfig(ratios={"Java": bad})  # type: ignore[dict-item]
