"""``Dataset(s3://...)`` and the remote module against a real S3 server (moto, started by the test).

The datasets are written by the pipeline's own writer to local disk, uploaded, then read back through the
URL; the oracle is the same dataset read from local disk."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fixtures_code import python_module
from opencook.data.write import WriteConfig, write_dataset
from opencook.kit.io import Dataset, DatasetError, NoDatasetFiles, remote
from opencook.kit.stats import StageStats
from s3_server import listing, local_files, new_bucket, s3_server, upload


@pytest.fixture(scope="module")
def s3():
    with s3_server() as endpoint:
        yield endpoint


def _records(n: int = 7) -> list[dict]:
    rng = random.Random(5)
    return [{"id": f"r{i}", "repo": "demo", "path": f"pkg/mod{i}.py", "language": "Python",
             "text": python_module(rng, n_funcs=2)} for i in range(n)]


def _local_dataset(tmp_path: Path, fmt: str) -> Path:
    folder = tmp_path / fmt / "dataset"
    write_dataset(_records(), folder, WriteConfig(format=fmt, max_rows=3), StageStats())
    (folder / "_SUCCESS.json").write_text("{}")  # a marker: not data, must be skipped remotely too
    return folder


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.zst"])
def test_a_dataset_on_s3_reads_as_the_same_dataset_on_disk(s3, tmp_path, fmt):
    local = _local_dataset(tmp_path, fmt)
    url = upload(local, f"{new_bucket()}/runs/a/dataset")
    ds = Dataset(url)
    files = ds.files()
    assert files == [f"{url}/{p.name}" for p in Dataset(local).files()]
    assert len(files) == 3
    assert remote.glob(f"{url}/part-*") == files  # what an ingest path pattern expands to
    assert list(ds.records()) == list(Dataset(local).records())
    assert list(ds.records(["id", "text"])) == list(Dataset(local).records(["id", "text"]))
    assert list(ds.texts()) == list(Dataset(local).texts())
    single = Dataset(files[1])  # one part by its URL
    assert [r["id"] for r in single.records()] == [r["id"] for r in Dataset(Dataset(local).files()[1]).records()]
    where = [w for w, _ in ds.located_records()]
    assert where[0].startswith(files[0])


def test_a_truncated_zst_part_on_s3_fails_naming_it(s3, tmp_path):
    local = _local_dataset(tmp_path, "jsonl.zst")
    part = sorted(local.glob("part-*"))[0]
    part.write_bytes(part.read_bytes()[:-7])
    url = upload(local, f"{new_bucket()}/d")
    with pytest.raises(DatasetError, match="part-00000.jsonl.zst is truncated"):
        list(Dataset(url).records())


def test_a_missing_or_empty_location_says_so(s3, tmp_path):
    bucket = new_bucket()
    with pytest.raises(NoDatasetFiles, match="does not exist"):
        Dataset(f"{bucket}/nothing/here").files()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("not data")
    upload(tmp_path / "x", f"{bucket}/x")
    with pytest.raises(NoDatasetFiles, match="holds no Parquet/JSONL files"):
        Dataset(f"{bucket}/x").files()


def test_a_file_url_is_a_local_path(tmp_path):
    local = _local_dataset(tmp_path, "parquet")
    assert Dataset(f"file://{local}").files() == Dataset(local).files()


def test_mirror_push_makes_the_remote_equal_to_the_local_copy(s3, tmp_path, monkeypatch):
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    url = f"{new_bucket()}/run"
    mirror = remote.Mirror.for_url(url, skip=("lock",))
    mirror.local.mkdir(parents=True)
    (mirror.local / "a").mkdir()
    (mirror.local / "a" / "x.parquet").write_bytes(b"x" * 10)
    (mirror.local / "a" / "x.done.json").write_text("{}")
    (mirror.local / "lock").write_text("local only")
    (mirror.local / "a" / ".x.parquet.99.tmp").write_bytes(b"half")
    mirror.push()
    assert listing(url) == {"a/x.done.json": b"{}", "a/x.parquet": b"x" * 10}
    (mirror.local / "a" / "x.parquet").unlink()  # the run deleted a stale shard: the remote follows
    (mirror.local / "a" / "y.parquet").write_bytes(b"y")
    mirror.push()
    assert listing(url) == {"a/x.done.json": b"{}", "a/y.parquet": b"y"}

    other = remote.Mirror(url, tmp_path / "elsewhere")  # another machine: pull brings the remote down
    (tmp_path / "elsewhere" / "a").mkdir(parents=True)
    (tmp_path / "elsewhere" / "a" / "old.parquet").write_bytes(b"not on the remote")  # a stale cache entry
    assert other.pull() == {"a/x.done.json": 2, "a/y.parquet": 1}
    assert local_files(tmp_path / "elsewhere") == {"a/x.done.json": b"{}", "a/y.parquet": b"y"}
    assert mirror.pull() == {"a/x.done.json": 2, "a/y.parquet": 1}
    assert local_files(mirror.local) == {"a/x.done.json": b"{}", "a/y.parquet": b"y", "lock": b"local only",
                                   "a/.x.parquet.99.tmp": b"half"}  # local-only files are the run's own


def test_a_location_with_foreign_files_is_refused_before_any_download(s3, tmp_path):
    url = f"{new_bucket()}/theirs"
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "data.csv").write_text("a,b\n")
    upload(tmp_path / "theirs", url)
    mirror = remote.Mirror(url, tmp_path / "copy")
    with pytest.raises(remote.ForeignFiles, match="data.csv"):
        mirror.pull(required=".opencook-run.json")
    assert not (tmp_path / "copy").exists()


def test_put_file_on_a_renaming_filesystem_goes_through_a_temporary_name(tmp_path):
    """memory:// can rename: the upload lands whole at its final name and leaves no temporary behind."""
    src = tmp_path / "f.bin"
    src.write_bytes(b"abc" * 1000)
    remote.put_file(src, "memory://opencook-test/out/f.bin")
    fs, _ = remote.url_to_fs("memory://opencook-test/out")
    assert fs.cat_file("/opencook-test/out/f.bin") == src.read_bytes()
    assert fs.ls("/opencook-test/out", detail=False) == ["/opencook-test/out/f.bin"]
