"""The data pipeline reading s3:// inputs and writing an s3:// run, against a real S3 server (moto's server
mode, started and stopped here): the same bytes as the same run on local disk, a run killed with SIGKILL
resumes from the markers on the remote (on the same machine or on a fresh one), a rerun is a no-op."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from fixtures_code import make_repos, python_module
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner, RunDirError
from opencook.kit.executors import InProcessExecutor
from opencook.kit.io import Dataset, remote
from s3_server import listing, local_files, new_bucket, s3_server, upload

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Every remote input kind: tar.gz and zip repositories, a JSONL.gz and a Parquet file of records, and the
    stars sidecar (in its own folder: everything in the inputs folder is ingested)."""
    root = make_repos(tmp_path_factory.mktemp("src"))
    inp = root / "in"
    inp.mkdir()
    for name in ("alpha", "gamma"):
        with tarfile.open(inp / f"{name}.tar.gz", "w:gz") as tf:
            tf.add(root / "repos" / name, arcname=name)
    with zipfile.ZipFile(inp / "beta.zip", "w") as zf:
        for p in sorted((root / "repos" / "beta").rglob("*")):
            if p.is_file():
                zf.write(p, f"beta/{p.relative_to(root / 'repos' / 'beta').as_posix()}")
    rng = random.Random(9)
    rows = [{"repo": "delta", "path": f"lib/m{i}.py", "text": python_module(rng)} for i in range(6)]
    with gzip.open(inp / "delta.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows[:3])
    pq.write_table(pa.Table.from_pylist(rows[3:]), inp / "delta.parquet", row_group_size=1)
    (root / "meta").mkdir()
    (root / "meta.jsonl").rename(root / "meta" / "meta.jsonl")
    return root


@pytest.fixture(scope="module")
def local_results(inputs, tmp_path_factory) -> dict[str, bytes]:
    """The oracle: the same recipe over the same inputs on local disk."""
    return _results(local_files(_local_run(inputs, tmp_path_factory.mktemp("local") / "run")))


def _recipe(inp: str, meta: str) -> dict:
    return {"name": "remote", "seed": 1, "stages": [
        {"ingest": {"paths": [inp], "metadata": meta, "files_per_task": 1}},
        {"exact_dedup": {}}, {"transform": {}}, {"sample": {}},
        {"write": {"max_rows": 4}},
    ]}


class NoWork(InProcessExecutor):
    """An executor that fails if it is handed any task: a finished run's rerun must hand it none."""

    def map(self, fn, tasks, desc):
        assert not tasks, f"{desc}: {len(tasks)} task(s) redone"
        return iter(())


def _local_run(inputs: Path, out: Path) -> Path:
    recipe = parse_recipe(_recipe(str(inputs / "in"), str(inputs / "meta" / "meta.jsonl")))
    PipelineRunner(recipe, out, InProcessExecutor()).run()
    return out


def _remote_inputs(inputs: Path) -> tuple[str, str]:
    bucket = new_bucket()
    return upload(inputs / "in", f"{bucket}/in"), upload(inputs / "meta" / "meta.jsonl", f"{bucket}/meta.jsonl")


def _results(files: dict[str, bytes]) -> dict[str, bytes]:
    """What must be byte-identical between runs: the dataset, the manifest and every shard with its marker's
    checksum (markers and stats also hold timings, so they are compared through the checksums they record)."""
    out = {k: v for k, v in files.items() if k.startswith("dataset/part-") or k == "manifest.json"
           or (k.startswith("stages/") and k.endswith(".parquet"))}
    for k, v in files.items():
        if k.endswith(".done.json"):
            out[k] = json.loads(v)["sha256"].encode()
    return out


def test_an_s3_to_s3_run_equals_the_same_run_on_local_disk(s3, inputs, local_results, tmp_path, monkeypatch):
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    local = local_results
    inp, meta = _remote_inputs(inputs)
    out = f"{inp.rsplit('/', 1)[0]}/runs/r1"
    results = PipelineRunner(parse_recipe(_recipe(inp, meta)), out, InProcessExecutor()).run()
    assert results[0].stats.counters["out"] > 20  # every input kind was read: 3 repositories + 6 records
    assert {r["repo"] for r in Dataset(f"{out}/dataset").records(["repo"])} >= {"alpha", "beta", "delta"}
    on_s3 = listing(out)
    assert _results(on_s3) == local
    shards = [k for k in on_s3 if k.startswith("stages/") and k.endswith(".parquet") and "/summaries/" not in k]
    assert shards and all(k.replace(".parquet", ".done.json") in on_s3 for k in shards)
    assert ".opencook-lock" not in on_s3 and ".opencook-run.json" in on_s3
    assert json.loads(on_s3["dataset/_SUCCESS.json"])["files"]
    # the remote's markers are what a rerun trusts: from a fresh local copy, nothing is redone
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache2"))
    again = PipelineRunner(parse_recipe(_recipe(inp, meta)), out, NoWork()).run()
    assert [r.skipped > 0 for r in again] == [True] * len(again)
    assert _results(listing(out)) == local


_KILLED_CHILD = """
import json, os, signal, sys
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner
from opencook.kit.executors import InProcessExecutor

class KillAfter(InProcessExecutor):
    '''Runs n tasks, then the process is SIGKILLed: no cleanup, no finally, no upload after that point.'''
    def __init__(self, n):
        self.left = n
    def map(self, fn, tasks, desc):
        for i, task in enumerate(tasks):
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)
            self.left -= 1
            yield i, fn(task)

recipe, out, n = sys.argv[1:4]
PipelineRunner(parse_recipe(json.loads(recipe)), out, KillAfter(int(n))).run()
"""


@pytest.mark.slow  # a child process
@pytest.mark.parametrize("machine", ["same", "fresh"])
def test_a_run_killed_with_sigkill_resumes_from_the_remote_to_the_same_bytes(s3, inputs, local_results, tmp_path,
                                                                           monkeypatch, machine):
    inp, meta = _remote_inputs(inputs)
    recipe = _recipe(inp, meta)
    out = f"{inp.rsplit('/', 1)[0]}/runs/killed"
    env = {**os.environ, remote.CACHE_ENV: str(tmp_path / "cache")}
    child = subprocess.run([sys.executable, "-c", _KILLED_CHILD, json.dumps(recipe), out, "9"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    half = listing(out)
    assert "dataset/_SUCCESS.json" not in half and "manifest.json" not in half  # killed mid-run
    assert sum(k.endswith(".done.json") for k in half) == 9  # each finished shard reached S3 with its marker

    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / ("cache" if machine == "same" else "cache-fresh")))
    results = PipelineRunner(parse_recipe(recipe), out, InProcessExecutor()).run()
    assert sum(r.skipped for r in results if r.kind != "sink") == 9
    assert _results(listing(out)) == local_results


@pytest.mark.slow
def test_the_cli_writes_to_s3_and_a_sigkilled_cli_run_resumes(s3, inputs, local_results, tmp_path):
    """``opencook run --out s3://...`` with worker processes, killed from outside once the first shard is on S3."""
    inp, meta = _remote_inputs(inputs)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(_recipe(inp, meta)))
    out = f"{inp.rsplit('/', 1)[0]}/runs/cli"
    env = {**os.environ, remote.CACHE_ENV: str(tmp_path / "cache"), "OPENCOOK_PROGRESS": "off"}
    cmd = [sys.executable, "-m", "opencook", "run", str(recipe), "--out", out, "--workers", "2"]
    proc = subprocess.Popen([*cmd, "--no-report"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        for _ in range(2400):  # at most about two minutes of polling
            if proc.poll() is not None or any(k.endswith(".done.json") for k in _keys(out)):
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and "manifest.json" not in _keys(out)  # killed mid-run
    done = subprocess.run(cmd, env={**env, remote.CACHE_ENV: str(tmp_path / "other")}, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "shard(s) already done" in done.stdout  # resumed from the remote's markers, not from a local copy
    assert f"dataset:  {out}/dataset" in done.stdout
    files = listing(out)
    assert "report.html" in files
    manifest = json.loads(files["manifest.json"])
    assert [e["path"] for e in manifest["files"]] == sorted(k for k in files if k.startswith("dataset/part-"))
    assert _results(files) == local_results


def _keys(url: str) -> list[str]:
    try:
        return list(remote.find(url))
    except FileNotFoundError:
        return []


def test_an_s3_location_holding_other_files_is_refused(s3, inputs, tmp_path, monkeypatch):
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    inp, meta = _remote_inputs(inputs)
    with pytest.raises(RunDirError, match="opencook did not write"):
        PipelineRunner(parse_recipe(_recipe(inp, meta)), inp, InProcessExecutor()).run()  # --out = the inputs
    assert sorted(listing(inp)) == sorted(p.name for p in (inputs / "in").iterdir())


def test_a_missing_remote_input_fails_before_any_work(s3, tmp_path, monkeypatch):
    from opencook.data.ingest import IngestError

    bucket = new_bucket()
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    recipe = parse_recipe({"name": "x", "stages": [{"ingest": {"paths": [f"{bucket}/missing"]}}, {"write": {}}]})
    with pytest.raises(IngestError, match="does not exist"):
        PipelineRunner(recipe, f"{bucket}/out", InProcessExecutor()).run()
    assert not [k for k in listing(bucket) if k.startswith("out/stages/")]  # no work was done


def _tree_recipe(repos: str, meta: str) -> dict:
    return {"name": "tree", "seed": 1, "stages": [
        {"ingest": {"paths": [repos], "metadata": meta, "files_per_task": 4, "exclude": ["*/mod3.py"]}},
        {"exact_dedup": {}}, {"transform": {}}, {"write": {"max_rows": 5}},
    ]}


def test_a_remote_tree_of_loose_files_ingests_like_its_local_copy_and_an_edited_object_is_read_again(
        s3, inputs, tmp_path, monkeypatch):
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    local_out = tmp_path / "local"
    PipelineRunner(parse_recipe(_tree_recipe(str(inputs / "repos"), str(inputs / "meta" / "meta.jsonl"))),
                   local_out, InProcessExecutor()).run()
    bucket = new_bucket()
    repos = upload(inputs / "repos", f"{bucket}/repos")
    recipe = parse_recipe(_tree_recipe(repos, upload(inputs / "meta" / "meta.jsonl", f"{bucket}/meta.jsonl")))
    results = PipelineRunner(recipe, f"{bucket}/run", InProcessExecutor()).run()
    ingest = results[0]
    assert ingest.stats.dropped["binary"] == 3 and ingest.stats.dropped["unknown_language"] == 3
    assert ingest.stats.counters["out"] == 18  # 3 repos x (3 modules not excluded + shared + core.c + notes)
    assert _results(listing(f"{bucket}/run")) == _results(local_files(local_out))

    edited = tmp_path / "mod0.py"
    edited.write_text(python_module(random.Random(77)))
    upload(edited, f"{repos}/alpha/pkg/mod0.py")  # replace one object
    again = PipelineRunner(recipe, f"{bucket}/run", InProcessExecutor()).run()
    assert again[0].skipped == len(again[0].shards) - 1  # only the task holding it is read again
    alpha = {r["path"]: r["text"] for r in Dataset(f"{bucket}/run/dataset").records(["repo", "path", "text"])
             if r["repo"] == "alpha"}
    assert alpha["pkg/mod0.py"] == edited.read_text()
