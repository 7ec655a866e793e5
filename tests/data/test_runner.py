"""End-to-end: recipe → run directory, resume after a crash, executors agree byte for byte."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from fixtures_code import dataset_bytes, pipeline_recipe
from opencook.data.recipe import load_recipe, parse_recipe
from opencook.data.runner import PipelineRunner, RunDirError
from opencook.kit.config import ConfigError
from opencook.kit.executors import InProcessExecutor, LocalExecutor
from opencook.kit.io.shards import sha256_file


def test_full_run_writes_dataset_manifest_and_stats(repo_tree, tmp_path):
    out = tmp_path / "run"
    results = PipelineRunner(parse_recipe(pipeline_recipe(repo_tree)), out, InProcessExecutor()).run()
    stages = {r.name: r.stats for r in results}
    # 3 repos x 9 files; a PNG (unknown language) and a binary .py each; "shared.py" exists 3 times and the
    # copy of the most-starred repo survives
    assert stages["ingest"].dropped["binary"] == 3
    assert stages["ingest"].dropped["unknown_language"] == 3
    assert stages["ingest"].counters["out"] == 21
    assert stages["exact_dedup"].dropped["exact_duplicate"] == 2
    table = pq.read_table(out / "dataset").to_pylist()
    shared = [r for r in table if r["path"].endswith("shared.py")]
    assert len(shared) == 1 and shared[0]["repo"] == "beta" and shared[0]["dup_count"] == 3
    assert {r["language"] for r in table} >= {"Python", "C"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["total_rows"] == len(table)
    for entry in manifest["files"]:
        assert sha256_file(out / entry["path"]) == entry["sha256"]
        assert pq.ParquetFile(out / entry["path"]).metadata.num_rows == entry["rows"] <= 5
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["stages"][3]["filter"]["seed"] == 1  # the recipe seed fills stage seeds
    assert json.loads((out / "versions.json").read_text())["packages"]["pyarrow"]
    run_stats = json.loads((out / "stats.json").read_text())
    assert [s["name"] for s in run_stats["stages"]] == [
        "ingest", "exact_dedup", "transform", "filter", "sample", "write"]


class CrashAfter(InProcessExecutor):
    """Runs ``n`` tasks, then fails like a machine going down mid-stage."""

    def __init__(self, n: int) -> None:
        self.left = n

    def map(self, fn, tasks, desc):
        for i, task in enumerate(tasks):
            if self.left == 0:
                raise KeyboardInterrupt("simulated crash")
            self.left -= 1
            yield i, fn(task)


@pytest.mark.parametrize("crash_after", [2, 9])
def test_rerun_after_crash_skips_finished_shards_and_matches(repo_tree, tmp_path, crash_after):
    recipe = parse_recipe(pipeline_recipe(repo_tree))
    PipelineRunner(recipe, tmp_path / "clean", InProcessExecutor()).run()
    crashed = tmp_path / "crashed"
    with pytest.raises(KeyboardInterrupt):
        PipelineRunner(recipe, crashed, CrashAfter(crash_after)).run()
    results = PipelineRunner(recipe, crashed, InProcessExecutor()).run()
    assert sum(r.skipped for r in results) > 0
    assert dataset_bytes(crashed) == dataset_bytes(tmp_path / "clean")
    assert (json.loads((crashed / "manifest.json").read_text())
            == json.loads((tmp_path / "clean" / "manifest.json").read_text()))
    clean_stats = json.loads((tmp_path / "clean" / "stats.json").read_text())["stages"]
    resumed_stats = json.loads((crashed / "stats.json").read_text())["stages"]
    assert [s["stats"] for s in clean_stats] == [s["stats"] for s in resumed_stats]


def test_corrupt_shard_is_redone_not_trusted(repo_tree, tmp_path):
    recipe = parse_recipe(pipeline_recipe(repo_tree))
    out = tmp_path / "run"
    PipelineRunner(recipe, out, InProcessExecutor()).run()
    before = dataset_bytes(out)
    shard = sorted((out / "stages").glob("03_filter/shard-*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:100])  # truncated
    results = PipelineRunner(recipe, out, InProcessExecutor()).run()
    assert next(r for r in results if r.name == "filter").skipped == len(results[3].shards) - 1
    assert dataset_bytes(out) == before


@pytest.mark.slow
def test_local_pool_and_in_process_give_identical_bytes(repo_tree, tmp_path):
    recipe = parse_recipe(pipeline_recipe(repo_tree, format="jsonl.zst"))
    PipelineRunner(recipe, tmp_path / "a", InProcessExecutor()).run()
    PipelineRunner(recipe, tmp_path / "b", LocalExecutor(2)).run()
    assert dataset_bytes(tmp_path / "a") == dataset_bytes(tmp_path / "b")
    assert dataset_bytes(tmp_path / "a")


def test_typo_fails_before_any_work(repo_tree, tmp_path):
    bad = pipeline_recipe(repo_tree)
    bad["stages"][3] = {"filter": {"sed": 3}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"stages\[3\]\.filter: unknown key 'sed'; did you mean 'seed'"):
        load_recipe(path)
    bad["stages"][3] = {"filtre": {}}
    with pytest.raises(ConfigError, match="unknown stage 'filtre'; did you mean 'filter'"):
        parse_recipe(bad)


def test_out_dir_of_another_recipe_is_refused(repo_tree, tmp_path):
    out = tmp_path / "run"
    PipelineRunner(parse_recipe(pipeline_recipe(repo_tree)), out, InProcessExecutor()).run()
    other = pipeline_recipe(repo_tree)
    other["seed"] = 2
    with pytest.raises(RunDirError, match="different recipe"):
        PipelineRunner(parse_recipe(other), out, InProcessExecutor()).run()
