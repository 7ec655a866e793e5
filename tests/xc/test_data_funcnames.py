"""FunctionNames on tiny hand-made inputs: classes, leakage, split by module, batching contract, cache."""

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from opencook.xc.data import PAD_LABEL, FunctionNames, FunctionNamesConfig
from opencook.xc.data.funcnames_extract import Extractor
from opencook.xc.data.funcnames_sources import is_eval, module_key

MOD_A_310 = """
def alpha(n):
    if n <= 0:
        return helper(n)
    return alpha(n - 1) + self.alpha


def beta():
    return [1, 2, 3]


def shared_name(value):
    return value.strip()
"""
MOD_A_311 = MOD_A_310.replace("helper(n)", "helper(n, strict=True)")
MOD_B = """
def shared_name(value, sep):
    return sep.join(value)


def gammaRay(xs):
    return sorted(xs)
"""


def _stdlibs(root: Path) -> str:
    """Two fake CPython versions, plus files that must be skipped or counted."""
    for version, mod_a in (("3.10", MOD_A_310), ("3.11", MOD_A_311)):
        lib = root / "versions" / version / "lib" / f"python{version}"
        (lib / "pkg").mkdir(parents=True)
        (lib / "pkg" / "mod_a.py").write_text(mod_a)
    lib = root / "versions" / "3.11" / "lib" / "python3.11"
    (lib / "mod_b.py").write_text(MOD_B)
    (lib / "broken.py").write_text("def broken(:\n    pass\n")
    (lib / "latin.py").write_bytes(b"def latin():\n    return '\xe9t\xe9'\n")
    (lib / "site-packages").mkdir()
    (lib / "site-packages" / "vendored.py").write_text(MOD_B)
    return str(root / "versions" / "*" / "lib" / "python3.*")


def _config(tmp_path: Path, sources, **kw) -> FunctionNamesConfig:
    kw = {"eval_fraction": 0.0, "workers": 1, "progress": False, "cache_dir": str(tmp_path / "cache"), **kw}
    return FunctionNamesConfig(sources=sources, **kw)


def _examples(data: FunctionNames, split: str) -> list[tuple[str, np.ndarray]]:
    s = data.data.splits[split]
    return [(data.class_names[y], s.tokens[s.offsets[i] : s.offsets[i + 1]]) for i, y in enumerate(s.labels)]


def test_classes_dedup_counts_and_no_leakage(tmp_path):
    data = FunctionNames(_config(tmp_path, _stdlibs(tmp_path)))
    stats = data.describe()
    assert data.class_names == ["alpha", "shared_name"]  # beta: one distinct body; gammaRay: once
    assert data.num_classes == 2 and data.input_kind == "tokens" and data.input_dim == 1 << 18
    assert (stats["files"], stats["files_ok"], stats["files_parse_failed"], stats["files_not_utf8"]) == (
        5,
        3,
        1,
        1,
    )
    assert stats["functions"] == 8 and stats["duplicates_train"] == 2  # beta and shared_name copied unchanged
    assert (stats["names"], stats["names_dropped"], stats["examples_dropped"]) == (4, 2, 2)
    assert (stats["train_examples"], stats["eval_examples"]) == (4, 0)
    ex = Extractor(1 << 18, 128, 1)
    for name, tokens in _examples(data, "train"):
        if name == "alpha":
            assert ex.piece_id("alpha") not in tokens
            assert ex.piece_id("helper") in tokens and ex.piece_id("self") in tokens


def test_min_count_is_respected(tmp_path):
    sources = _stdlibs(tmp_path)
    everything = FunctionNames(_config(tmp_path, sources, min_count=1))
    assert everything.class_names == ["alpha", "beta", "gammaRay", "shared_name"]


def test_no_class_reaching_min_count_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no function name has 3 distinct examples"):
        FunctionNames(_config(tmp_path, _stdlibs(tmp_path), min_count=3))


def test_split_is_by_module_path_so_versions_stay_together(tmp_path):
    for version in ("3.10", "3.11"):
        lib = tmp_path / version / "lib" / f"python{version}"
        for m in range(24):
            (lib / f"pkg{m % 3}").mkdir(parents=True, exist_ok=True)
            body = f"def common(x):\n    return x + {m} * y{version.replace('.', '')}\n"
            (lib / f"pkg{m % 3}" / f"mod{m}.py").write_text(
                body + f"\ndef f{m}(a):\n    return a.v{version[-1]}\n"
            )
    data = FunctionNames(_config(tmp_path, str(tmp_path / "3.*" / "lib" / "python3.*"), eval_fraction=0.5))
    assert data.data.file_keys[0] == "pkg0/mod0.py" and len(data.data.file_keys) == 24
    split_of_key = {}
    for split in ("train", "eval"):
        assert len(data.data.splits[split]) > 0
        for f in data.data.splits[split].files:
            key = data.data.file_keys[f]
            assert split_of_key.setdefault(key, split) == split
            assert is_eval(key, 0.5, 0) == (split == "eval")
    assert len(split_of_key) == 24
    assert data.describe()["eval_also_in_train"] > 0  # common()'s body repeats in every module
    assert module_key("/x/.pyenv/versions/3.9.18/lib/python3.9/json/decoder.py") == "json/decoder.py"


def _split_data(tmp_path: Path, n: int = 37, **kw) -> FunctionNames:
    lib = tmp_path / "src"
    lib.mkdir()
    for i in range(n):
        (lib / f"m{i}.py").write_text(
            f"def name{i % 9}(a):\n    return a.attr_{i} + {' + '.join(['b'] * (i + 1))}\n"
        )
    return FunctionNames(_config(tmp_path, str(lib), **kw))


def test_batches_are_world_size_independent_and_cover_epochs(tmp_path):
    data = _split_data(tmp_path, max_tokens=16)
    n = data.describe()["train_examples"]
    assert n == 37 and data.num_classes == 9
    for step in (0, 3, 11):  # 12 rows a step: steps 3 and 11 straddle epoch boundaries
        x1, y1 = data.train_batch(step, 12, 0, 1)
        assert x1.dtype == torch.int64 and y1.dtype == torch.int64 and x1.shape == (12, 16)
        for world in (2, 3, 4):
            parts = [data.train_batch(step, 12, r, world) for r in range(world)]
            assert torch.equal(torch.cat([p[0] for p in parts]), x1)
            assert torch.equal(torch.cat([p[1] for p in parts]), y1)
    epoch0 = data.train_batch(0, n, 0, 1)
    epoch1 = data.train_batch(1, n, 0, 1)
    train = data.data.splits["train"]
    assert sorted(epoch0[1].tolist()) == sorted(train.labels.tolist()) == sorted(epoch1[1].tolist())
    assert not torch.equal(epoch0[1], epoch1[1])
    assert (epoch0[0][:, 0] > 0).all() and (epoch0[0] == 0).any()  # real tokens first, 0 pads the rest
    again = FunctionNames(data.config)
    assert torch.equal(again.train_batch(5, 8, 1, 2)[0], data.train_batch(5, 8, 1, 2)[0])
    with pytest.raises(ValueError, match="does not split evenly"):
        data.train_batch(0, 12, 0, 5)


def test_eval_batches_pad_with_ignored_rows(tmp_path):
    data = _split_data(tmp_path, eval_fraction=0.4)
    m = data.describe()["eval_examples"]
    assert 0 < m < 37
    single = list(data.eval_batches(8, 0, 1))
    halves = [list(data.eval_batches(8, r, 2)) for r in range(2)]
    assert len(single) == len(halves[0]) == len(halves[1]) == -(-m // 8)
    labels = torch.cat([y for _, y in single])
    assert int((labels != PAD_LABEL).sum()) == m and (labels[m:] == PAD_LABEL).all()
    for i, (x, y) in enumerate(single):
        assert torch.equal(torch.cat([halves[0][i][0], halves[1][i][0]]), x)
        assert torch.equal(torch.cat([halves[0][i][1], halves[1][i][1]]), y)


def test_cache_hit_miss_and_worker_count_independence(tmp_path):
    sources = _stdlibs(tmp_path)
    first = FunctionNames(_config(tmp_path, sources))
    second = FunctionNames(_config(tmp_path, sources, seed=7))
    assert not first.cache_hit and second.cache_hit and second.cache_path == first.cache_path
    assert second.class_names == first.class_names and second.describe()["functions"] == 8
    looser = FunctionNames(_config(tmp_path, sources, min_count=1))  # classes are chosen after the cache
    assert looser.cache_hit and looser.num_classes == 4
    assert not FunctionNames(_config(tmp_path, sources, max_tokens=64)).cache_hit
    mod_b = tmp_path / "versions" / "3.11" / "lib" / "python3.11" / "mod_b.py"
    os.utime(mod_b, ns=(mod_b.stat().st_atime_ns, mod_b.stat().st_mtime_ns + 10**9))
    assert not FunctionNames(_config(tmp_path, sources)).cache_hit
    pooled = FunctionNames(_config(tmp_path, sources, workers=2, cache_dir=str(tmp_path / "other")))
    assert not pooled.cache_hit
    for split in ("train", "eval"):
        a, b = first.data.splits[split], pooled.data.splits[split]
        assert all(
            np.array_equal(getattr(a, f), getattr(b, f)) for f in ("tokens", "offsets", "labels", "files")
        )


def test_parquet_source(tmp_path):
    rows = [
        ("a/util.py", "Python", MOD_A_310),
        ("b/util.py", "Python", MOD_A_311),
        ("c/more.py", "Python", MOD_B),
        ("c/more.js", "JavaScript", "function alpha(n) { return n; }"),
    ]
    table = pa.table({
        "id": [str(i) for i in range(len(rows))],
        "path": [r[0] for r in rows],
        "language": [r[1] for r in rows],
        "text": pa.array([r[2] for r in rows], type=pa.large_string()),
    })  # fmt: skip
    (tmp_path / "dataset").mkdir()
    pq.write_table(table, tmp_path / "dataset" / "part-00000.parquet")
    data = FunctionNames(_config(tmp_path, str(tmp_path / "dataset")))
    stats = data.describe()
    assert stats["rows_other_language"] == 1 and stats["files"] == 3
    assert data.class_names == ["alpha", "shared_name"]
    assert stats["duplicates_train"] == 2
    assert sorted(data.data.file_keys) == ["a/util.py", "b/util.py", "c/more.py"]


def test_missing_or_empty_sources_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        FunctionNames(_config(tmp_path, str(tmp_path / "nowhere")))
    with pytest.raises(ValueError, match="does not exist"):
        FunctionNames(_config(tmp_path, str(tmp_path / "nowhere" / "*")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .py or .parquet files"):
        FunctionNames(_config(tmp_path, str(tmp_path / "empty")))
    with pytest.raises(ValueError, match="no sources"):
        FunctionNames(_config(tmp_path, ()))
