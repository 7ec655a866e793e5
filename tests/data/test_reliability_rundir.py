"""Issue 20, cases 1-3: a run never deletes what it did not write, is locked while it writes, reads an edited
input again, and never reuses or certifies a damaged final part. Real files and real processes throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from fixtures_code import dataset_bytes, pipeline_recipe
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner, RunDirError
from opencook.kit.executors import InProcessExecutor
from opencook.kit.io.shards import sha256_file


def _run(repo_tree, out):
    return PipelineRunner(parse_recipe(pipeline_recipe(repo_tree)), out, InProcessExecutor()).run()


def _texts(out) -> dict[str, str]:
    return {f"{r['repo']}/{r['path']}": r["text"] for r in pq.read_table(out / "dataset").to_pylist()}


# ---------------------------------------------------------------- case 1: nothing of the user's is deleted


def test_a_folder_of_the_users_is_refused_and_left_as_it_was(repo_tree, tmp_path):
    out = tmp_path / "mine"
    (out / "dataset").mkdir(parents=True)
    (out / "dataset" / "thesis.tex").write_text("three years of work\n")
    (out / "notes.md").write_text("keep me\n")
    with pytest.raises(RunDirError, match="did not write"):
        _run(repo_tree, out)
    assert (out / "dataset" / "thesis.tex").read_text() == "three years of work\n"
    assert sorted(p.name for p in out.rglob("*")) == ["dataset", "notes.md", "thesis.tex"]


def test_a_users_file_inside_a_finished_run_survives_a_rewrite_of_the_dataset(repo_tree, tmp_path):
    out = tmp_path / "run"
    _run(repo_tree, out)
    (out / "dataset" / "README.md").write_text("my notes on this dataset\n")
    part = sorted((out / "dataset").glob("part-*"))[0]
    part.write_bytes(part.read_bytes()[:50])  # forces the sink to run again
    _run(repo_tree, out)
    assert (out / "dataset" / "README.md").read_text() == "my notes on this dataset\n"


def test_a_run_from_before_markers_is_still_resumed(repo_tree, tmp_path):
    out = tmp_path / "run"
    _run(repo_tree, out)
    before = dataset_bytes(out)
    (out / ".opencook-run.json").unlink()  # as a run directory written before markers looks
    results = _run(repo_tree, out)
    assert all(r.skipped for r in results) and dataset_bytes(out) == before
    assert (out / ".opencook-run.json").is_file()


_HOLD = textwrap.dedent("""
    import sys
    from opencook.kit.rundir import RunLock, claim
    claim(sys.argv[1], "data")
    lock = RunLock(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.read()
""")


def test_a_second_run_into_a_locked_directory_fails_clearly_and_a_killed_holder_leaves_no_lock(repo_tree, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError, match=rf"being written by another run \(pid {holder.pid}"):
            _run(repo_tree, out)
        assert not (out / "dataset").exists() and not (out / "config.yaml").exists()
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the lock
        holder.wait()
    results = _run(repo_tree, out)
    assert results[-1].stats.counters["out"] > 0


def test_the_cli_reports_a_locked_run_directory_without_a_traceback(repo_tree, tmp_path):
    out = tmp_path / "run"
    recipe = tmp_path / "r.json"  # JSON is YAML
    recipe.write_text(json.dumps(pipeline_recipe(repo_tree)))
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = {k: v for k, v in os.environ.items() if k != "OPENCOOK_RUN_DIR_LOCKED"}
        done = subprocess.run([sys.executable, "-m", "opencook", "run", str(recipe), "--out", str(out),
                               "--executor", "inprocess", "--no-report"], capture_output=True, text=True, env=env)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode != 0
    assert "being written by another run" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- case 2: an edited input is read again


def test_an_edited_input_file_is_read_again_on_rerun(repo_tree, tmp_path):
    out = tmp_path / "run"
    _run(repo_tree, out)
    target = repo_tree / "repos" / "alpha" / "src" / "core.c"
    old = target.read_text()
    assert _texts(out)["alpha/src/core.c"] == old
    stat = target.stat()
    target.write_text(old.replace("int ", "long ", 1))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with its old mtime put back
    results = _run(repo_tree, out)
    assert _texts(out)["alpha/src/core.c"] == old.replace("int ", "long ", 1)
    assert results[0].skipped == len(results[0].shards) - 1  # only the edited file's task was read again
    clean = tmp_path / "clean"
    _run(repo_tree, clean)
    assert dataset_bytes(out) == dataset_bytes(clean)


# ---------------------------------------------------------------- case 3: a damaged final part is redone


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_dataset_part_is_redone_and_never_certified(repo_tree, tmp_path, damage):
    out = tmp_path / "run"
    _run(repo_tree, out)
    before = dataset_bytes(out)
    manifest = (out / "manifest.json").read_text()
    part = sorted((out / "dataset").glob("part-*"))[1]
    data = bytearray(part.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) // 2]
    part.write_bytes(bytes(data))
    results = _run(repo_tree, out)
    assert results[-1].skipped == 0  # the sink ran again
    assert dataset_bytes(out) == before
    assert (out / "manifest.json").read_text() == manifest
    for entry in json.loads(manifest)["files"]:
        assert sha256_file(out / entry["path"]) == entry["sha256"]
