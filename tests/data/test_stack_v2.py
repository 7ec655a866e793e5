"""The ``stack_v2`` source: The Stack v2 metadata rows joined with contents from a local mirror, in a real
pipeline run; a missing blob and malformed rows are counted drops, not crashes."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from opencook.data.ingest.config import IngestError
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner
from opencook.kit.executors import InProcessExecutor


def blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()  # git's blob id, as Software Heritage


@pytest.fixture()
def stack(tmp_path) -> dict:
    """A mirror holding real files plain, gzip without suffix (as the S3 bucket), .zst and sharded."""
    python = Path(json.__file__).read_bytes()
    decoder = (Path(json.__file__).parent / "decoder.py").read_bytes()
    shell = textwrap.dedent("""\
        #!/bin/sh
        # Réglages du dépôt: copie les fichiers générés
        set -eu
        for f in build/*.o; do cp "$f" out/; done
        """).encode("latin-1")
    mirror = tmp_path / "mirror"
    (mirror / blob_id(decoder)[:2]).mkdir(parents=True)
    (mirror / blob_id(python)).write_bytes(gzip.compress(python))
    (mirror / (blob_id(shell) + ".zst")).write_bytes(zstandard.ZstdCompressor().compress(shell))
    (mirror / blob_id(decoder)[:2] / blob_id(decoder)).write_bytes(decoder)
    corrupt = "c" * 40
    (mirror / (corrupt + ".gz")).write_bytes(b"\x1f\x8b" + b"not really gzip")
    when = dt.datetime(2023, 5, 1, 12, 0, tzinfo=dt.UTC)
    rows = [
        {"blob_id": blob_id(python), "path": "/json/__init__.py", "repo_name": "python/cpython", "language": "Python",
         "src_encoding": "UTF-8", "length_bytes": len(python), "star_events_count": 60000, "committer_date": when,
         "detected_licenses": ["PSF-2.0"], "license_type": "permissive", "is_vendor": False, "is_generated": False},
        {"blob_id": blob_id(shell), "path": "/scripts/copy.sh", "repo_name": "acme/build", "language": "Shell",
         "src_encoding": "ISO-8859-1", "length_bytes": len(shell), "star_events_count": 3, "committer_date": when,
         "detected_licenses": [], "license_type": "no_license", "is_vendor": False, "is_generated": False},
        {"blob_id": blob_id(decoder), "path": "/json/decoder.py", "repo_name": "python/cpython", "language": None,
         "src_encoding": None, "length_bytes": len(decoder), "star_events_count": None, "committer_date": None,
         "detected_licenses": ["PSF-2.0"], "license_type": "permissive", "is_vendor": False, "is_generated": True},
        {"blob_id": "f" * 40, "path": "/missing.py", "repo_name": "acme/gone", "language": "Python",
         "src_encoding": "UTF-8", "length_bytes": 10, "star_events_count": 1, "committer_date": when,
         "detected_licenses": [], "license_type": "no_license", "is_vendor": False, "is_generated": False},
        {"blob_id": "../../etc/passwd", "path": "/x.py", "repo_name": "evil/x", "language": "Python",
         "src_encoding": "UTF-8", "length_bytes": 10, "star_events_count": 1, "committer_date": when,
         "detected_licenses": [], "license_type": "no_license", "is_vendor": False, "is_generated": False},
        {"blob_id": None, "path": "/y.py", "repo_name": "acme/y", "language": "Python", "src_encoding": "UTF-8",
         "length_bytes": 10, "star_events_count": 1, "committer_date": when, "detected_licenses": [],
         "license_type": "no_license", "is_vendor": False, "is_generated": False},
        {"blob_id": blob_id(python), "path": None, "repo_name": "acme/z", "language": "Python",
         "src_encoding": "UTF-8", "length_bytes": 10, "star_events_count": 1, "committer_date": when,
         "detected_licenses": [], "license_type": "no_license", "is_vendor": False, "is_generated": False},
        {"blob_id": corrupt, "path": "/corrupt.py", "repo_name": "acme/c", "language": "Python",
         "src_encoding": "UTF-8", "length_bytes": 10, "star_events_count": 1, "committer_date": when,
         "detected_licenses": [], "license_type": "no_license", "is_vendor": False, "is_generated": False},
    ]
    meta = tmp_path / "meta"
    meta.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), meta / "train-00000.parquet", row_group_size=3)
    return {"meta": meta, "mirror": mirror, "python": python, "shell": shell, "decoder": decoder, "when": when}


def test_rows_join_their_contents_and_bad_rows_are_counted(stack, tmp_path):
    recipe = parse_recipe({"name": "stack", "stages": [
        {"stack_v2": {"paths": [str(stack["meta"])], "mirror": str(stack["mirror"]), "rows_per_task": 3}},
        {"write": {}}]})
    run = tmp_path / "run"
    PipelineRunner(recipe, run, InProcessExecutor()).run()
    got = {(r["repo"], r["path"]): r for r in pq.read_table(run / "dataset").to_pylist()}
    assert set(got) == {("python/cpython", "json/__init__.py"), ("acme/build", "scripts/copy.sh"),
                        ("python/cpython", "json/decoder.py")}
    init = got[("python/cpython", "json/__init__.py")]
    assert init["text"] == stack["python"].decode() and init["language"] == "Python"
    assert init["stars"] == 60000 and init["commit_time"] == int(stack["when"].timestamp())
    assert init["size_bytes"] == len(stack["python"])
    shell = got[("acme/build", "scripts/copy.sh")]
    assert "Réglages du dépôt" in shell["text"] and shell["language"] == "Shell"
    assert got[("python/cpython", "json/decoder.py")]["language"] == "Python"  # no language: from the path

    stats = json.loads((run / "stats.json").read_text())["stages"][0]["stats"]
    assert stats["counters"]["in"] == 8
    assert stats["dropped"] == {"missing_blob": 1, "malformed:bad_blob_id": 1, "malformed:no_blob_id": 1,
                                "malformed:no_path": 1, "malformed:bad_blob": 1}
    assert stats["counters"]["decode:iso-8859-1"] == 1 and stats["counters"]["is_generated"] == 1
    assert stats["counters"]["license_type:permissive"] == 2


def test_plan_names_a_missing_mirror_and_missing_columns(stack, tmp_path):
    from opencook.data.ingest.stack_v2 import StackV2Config, plan_stack_v2

    with pytest.raises(IngestError, match="mirror"):
        plan_stack_v2(StackV2Config(paths=[str(stack["meta"])], mirror=str(tmp_path / "nowhere")))
    pq.write_table(pa.table({"path": ["a.py"], "text": ["x = 1"]}), tmp_path / "plain.parquet")
    with pytest.raises(IngestError, match="blob_id"):
        plan_stack_v2(StackV2Config(paths=[str(tmp_path / "plain.parquet")], mirror=str(stack["mirror"])))
