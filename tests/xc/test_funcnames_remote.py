"""The function-names task reading its dataset sources from s3:// (moto's server mode, started and stopped
here): the same examples as the local copy, the cache keyed by the objects' versions, clear errors for a missing
object, a glob matching nothing and a remote .py tree."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_data_funcnames import MOD_A_310, MOD_A_311, MOD_B, _config

from opencook.xc.data import FunctionNames
from s3_server import new_bucket, s3_server, upload


@pytest.fixture(scope="module")
def s3():
    with s3_server() as endpoint:
        yield endpoint


def _dataset(root: Path) -> Path:
    """A pipeline-style dataset folder: a Parquet part, a JSONL.gz part (one row of another language) and a
    ``vendor/`` folder that ``exclude_dirs`` skips."""
    root.mkdir()
    pq.write_table(pa.table({"path": ["a/util.py", "b/util.py"], "language": ["Python", "Python"],
                             "text": [MOD_A_310, MOD_A_311]}), root / "part-00000.parquet")
    with gzip.open(root / "part-00001.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"path": "c/more.py", "language": "Python", "text": MOD_B}) + "\n")
        fh.write(json.dumps({"path": "c/more.js", "language": "JavaScript", "text": "function alpha() {}"}) + "\n")
    (root / "vendor").mkdir()
    pq.write_table(pa.table({"path": ["v/x.py"], "language": ["Python"], "text": ["def vendored():\n    pass\n"]}),
                   root / "vendor" / "part-00000.parquet")
    (root / "_SUCCESS.json").write_text("{}\n")
    return root


def test_a_remote_dataset_source_gives_the_examples_of_its_local_copy(s3, tmp_path):
    local = _dataset(tmp_path / "dataset")
    url = upload(local, f"{new_bucket()}/dataset")
    kw = {"min_count": 1, "exclude_dirs": ("vendor",)}
    here = FunctionNames(_config(tmp_path, str(local), cache_dir=str(tmp_path / "c1"), **kw))
    there = FunctionNames(_config(tmp_path, url, cache_dir=str(tmp_path / "c2"), **kw))
    assert not there.cache_hit and there.describe()["rows_other_language"] == 1
    assert there.class_names == here.class_names == ["alpha", "beta", "gammaRay", "shared_name"]
    assert there.data.file_keys == here.data.file_keys == ["a/util.py", "b/util.py", "c/more.py"]
    a, b = here.data.splits["train"], there.data.splits["train"]
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("tokens", "offsets", "labels", "files"))

    assert FunctionNames(_config(tmp_path, url, cache_dir=str(tmp_path / "c2"), **kw)).cache_hit
    replaced = tmp_path / "more.jsonl.gz"
    with gzip.open(replaced, "wt") as fh:
        fh.write(json.dumps({"path": "c/more.py", "language": "Python", "text": MOD_B + "\n\ndef delta():\n    pass\n"}))
    upload(replaced, f"{url}/part-00001.jsonl.gz")  # the object is replaced: the cached build is stale
    again = FunctionNames(_config(tmp_path, url, cache_dir=str(tmp_path / "c2"), **kw))
    assert not again.cache_hit and "delta" in again.class_names
    one_file = FunctionNames(_config(tmp_path, f"{url}/part-0000*.parquet", cache_dir=str(tmp_path / "c3"), **kw))
    assert one_file.data.file_keys == ["a/util.py", "b/util.py"]


def test_missing_remote_sources_are_clear_errors(s3, tmp_path):
    bucket = new_bucket()
    with pytest.raises(ValueError, match=r"funcnames source 's3://.*/nowhere' does not exist"):
        FunctionNames(_config(tmp_path, f"{bucket}/nowhere"))
    with pytest.raises(ValueError, match=r"funcnames source 's3://.*/\*.parquet' does not exist"):
        FunctionNames(_config(tmp_path, f"{bucket}/*.parquet"))
    (tmp_path / "notes.txt").write_text("no data here\n")
    upload(tmp_path / "notes.txt", f"{bucket}/docs/notes.txt")
    with pytest.raises(ValueError, match="no .py or .parquet files"):
        FunctionNames(_config(tmp_path, f"{bucket}/docs"))
    with pytest.raises(ValueError, match="a remote source must be a dataset"):
        FunctionNames(_config(tmp_path, f"{bucket}/docs", format="py"))
