"""kit.io: Dataset's reading and its error messages, atomic_write, sha256_file."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from opencook.kit.io import Dataset, DatasetError, NoDatasetFiles, atomic_write, sha256_file


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_folder_lists_dataset_files_recursively_and_skips_markers(tmp_path):
    _jsonl(tmp_path / "b.jsonl", [{"text": "b"}])
    (tmp_path / "sub").mkdir()
    pq.write_table(pa.table({"text": ["a"]}), tmp_path / "sub" / "a.parquet")
    (tmp_path / "_SUCCESS.json").write_text("{}")
    (tmp_path / ".part.jsonl.1.tmp").write_text("half")
    (tmp_path / "_stages").mkdir()
    _jsonl(tmp_path / "_stages" / "x.jsonl", [{"text": "hidden"}])
    (tmp_path / "README.md").write_text("not data")
    assert [p.relative_to(tmp_path).as_posix() for p in Dataset(tmp_path).files()] == ["b.jsonl", "sub/a.parquet"]
    assert list(Dataset(tmp_path).texts()) == ["b", "a"]
    assert Dataset(tmp_path / "b.jsonl").files() == [tmp_path / "b.jsonl"]


def test_compressed_jsonl_and_blank_lines(tmp_path):
    data = b'{"text": "x", "n": 1}\n\n{"text": "y", "n": 2}\n'
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(data))
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    assert list(Dataset(tmp_path).texts()) == ["x", "y", "x", "y"]
    assert list(Dataset(tmp_path / "b.jsonl.zst").records(columns=["n"])) == [{"n": 1}, {"n": 2}]
    where = [w for w, _ in Dataset(tmp_path / "a.jsonl.gz").located_records()]
    assert where == [f"{tmp_path / 'a.jsonl.gz'}:1", f"{tmp_path / 'a.jsonl.gz'}:3"]


def test_parquet_columns_are_read_alone(tmp_path):
    pq.write_table(pa.table({"id": ["1", "2"], "text": ["a", None], "big": [b"x" * 10, b"y"]}), tmp_path / "p.parquet")
    assert list(Dataset(tmp_path).records(columns=["id"])) == [{"id": "1"}, {"id": "2"}]
    assert list(Dataset(tmp_path).texts()) == ["a"]
    assert list(Dataset(tmp_path).records())[0] == {"id": "1", "text": "a", "big": b"x" * 10}


def test_missing_empty_and_unsupported_paths_say_the_fix(tmp_path):
    with pytest.raises(NoDatasetFiles, match=r"nowhere does not exist: give a dataset folder"):
        Dataset(tmp_path / "nowhere").files()
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoDatasetFiles, match=r"empty is empty: give a folder of .parquet, .jsonl"):
        Dataset(tmp_path / "empty").files()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "a.py").write_text("x = 1\n")
    with pytest.raises(NoDatasetFiles, match=r"holds no Parquet/JSONL files \(found e.g. a.py\)"):
        Dataset(tmp_path / "code").files()
    with pytest.raises(NoDatasetFiles, match=r"a.py is not a dataset file"):
        Dataset(tmp_path / "code" / "a.py").files()
    assert issubclass(NoDatasetFiles, FileNotFoundError) and issubclass(NoDatasetFiles, ValueError)


def test_malformed_jsonl_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: not valid JSON .*fix or remove the line"):
        list(Dataset(bad).records())
    _jsonl(bad, [{"text": "ok"}, [1, 2]])
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: not a JSON object"):
        list(Dataset(bad).records())
    _jsonl(bad, [{"text": "ok"}, {"content": "no text"}])
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2 has no 'text' field"):
        list(Dataset(bad).texts())
    assert list(Dataset(bad).records()) == [{"text": "ok"}, {"content": "no text"}]


def test_on_bad_counts_and_skips(tmp_path):
    bad = tmp_path / "web.jsonl.zst"
    data = zstandard.ZstdCompressor().compress(b'{"text": "a"}\nnot json\n[1]\n{"text": "b"}\n')
    bad.write_bytes(data)
    seen: list[str] = []
    assert [r["text"] for r in Dataset(bad).records(on_bad=lambda why, exc: seen.append(why))] == ["a", "b"]
    assert seen == ["bad_json", "not_an_object"]
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(data[:-6])
    with pytest.raises(DatasetError, match=r"cut\.jsonl\.zst is truncated or corrupt .*rewrite or re-download"):
        list(Dataset(cut).records())
    seen.clear()
    list(Dataset(cut).records(on_bad=lambda why, exc: seen.append(why)))
    assert seen[-1] == "truncated_file"


def test_a_jsonl_line_that_is_not_utf8_is_an_error_or_a_counted_drop(tmp_path):
    (tmp_path / "a.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "ok"}\n{"text": "\xff"}\n'))
    with pytest.raises(DatasetError, match=r"a.jsonl.zst:2: not UTF-8"):
        list(Dataset(tmp_path).texts())
    bad = []
    assert [r["text"] for r in Dataset(tmp_path).records(on_bad=lambda why, exc: bad.append(why))] == ["ok"]
    assert bad == ["bad_json"]


def test_unreadable_parquet_and_missing_text_column(tmp_path):
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DatasetError, match=r"junk\.parquet is not a readable Parquet file .*rewrite it"):
        list(Dataset(tmp_path / "junk.parquet").records())
    pq.write_table(pa.table({"content": ["x"]}), tmp_path / "other.parquet")
    with pytest.raises(DatasetError, match=r"other\.parquet has no 'text' column \(columns: \['content'\]\)"):
        list(Dataset(tmp_path / "other.parquet").texts())


def test_atomic_write_replaces_whole_files_and_cleans_up(tmp_path):
    target = tmp_path / "sub" / "out.json"
    with atomic_write(target) as fh:
        fh.write("é first")
    assert target.read_text(encoding="utf-8") == "é first"
    with pytest.raises(RuntimeError), atomic_write(target, "wb") as fh:
        fh.write(b"half")
        raise RuntimeError("crash")
    assert target.read_text(encoding="utf-8") == "é first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]
    with pytest.raises(ValueError, match="use 'w'"):
        with atomic_write(target, "a"):
            pass


def test_sha256_file(tmp_path):
    data = bytes(range(256)) * 5000
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(tmp_path / "f"), chunk=7) == hashlib.sha256(data).hexdigest()
