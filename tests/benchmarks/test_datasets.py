"""Benchmark loading: counts, fields and checksums of the real files; where MBPP is looked for; the
errors for a missing file (offline, a download fails with a message that says what to do)."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from mbpp_data import needs_mbpp
from opencook.benchmarks.problems import MBPP_ENV, DatasetError, default_mbpp_dir, load_humaneval, load_mbpp


def test_humaneval_from_package():
    bench = load_humaneval()
    assert len(bench.problems) == 164 and bench.name == "humaneval"
    assert bench.problems[0].task_id == "HumanEval/0" and bench.problems[0].entry_point == "has_close_elements"
    with open(bench.source, "rb") as f:
        assert bench.sha256 == hashlib.sha256(f.read()).hexdigest()


@needs_mbpp
@pytest.mark.parametrize(("split", "count", "first_words"), [("full", 974, "Write a function to find the minimum"),
                                                             ("sanitized", 427, "Write a function to find the shared")])
def test_mbpp_splits(split, count, first_words):
    bench = load_mbpp(split)
    assert len(bench.problems) == count and bench.problems[0].prompt.startswith(first_words)
    assert bench.record()["sha256_matches_known"] is True
    assert all(p.test_list for p in bench.problems)


@needs_mbpp
def test_mbpp_dir_from_env_and_copy(monkeypatch, tmp_path):
    shutil.copy(default_mbpp_dir() / "mbpp_sanitized.jsonl", tmp_path / "mbpp_sanitized.jsonl")
    monkeypatch.setenv(MBPP_ENV, str(tmp_path))
    assert default_mbpp_dir() == tmp_path
    assert load_mbpp("sanitized").source == str(tmp_path / "mbpp_sanitized.jsonl")
    with pytest.raises(DatasetError, match=rf"mbpp.jsonl does not exist: point --mbpp-dir \(or \${MBPP_ENV}\)"):
        load_mbpp("full")
    with pytest.raises(DatasetError, match="unknown MBPP split 'train'"):
        load_mbpp("train")


@needs_mbpp
def test_truncated_file_is_refused(tmp_path):
    lines = (default_mbpp_dir() / "mbpp.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "mbpp.jsonl").write_text("".join(lines[:100]))
    with pytest.raises(DatasetError, match="holds 100 rows, expected 974"):
        load_mbpp("full", tmp_path)


def test_download_fetches_or_says_offline(tmp_path):
    try:
        bench = load_mbpp("sanitized", tmp_path / "dl", download=True)
    except DatasetError as e:  # no network here: the message says how to proceed
        assert "offline" in str(e) and "--mbpp-dir" in str(e)
        assert not (tmp_path / "dl" / "mbpp_sanitized.jsonl").exists()
    else:
        assert len(bench.problems) == 427
