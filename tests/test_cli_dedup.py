"""``opencook data dedup``: fuzzy dedup of a dataset the pipeline wrote, as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from fixtures_code import make_repos
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner
from opencook.kit.executors import InProcessExecutor


def opencook(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opencook.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _dataset(tmp_path: Path) -> Path:
    """A pipeline-written dataset (ingest -> write) with exact and planted near-duplicates."""
    root = make_repos(tmp_path / "src")
    lines = (root / "repos" / "alpha" / "pkg" / "mod1.py").read_text().splitlines()
    lines[6] = "    changed_here = 1"
    (root / "repos" / "beta" / "pkg" / "mod1_copy.py").write_text("\n".join(lines) + "\n")
    recipe = {"name": "base", "seed": 1, "stages": [
        {"ingest": {"paths": [str(root / "repos")], "layout": "repos", "metadata": str(root / "meta.jsonl")}},
        {"write": {}}]}
    PipelineRunner(parse_recipe(recipe), tmp_path / "base", InProcessExecutor()).run()
    return tmp_path / "base" / "dataset"


def test_dedup_a_dataset_folder_prints_threshold_counts_and_the_removed_list(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)
    n_in = pq.read_table(dataset).num_rows
    out = tmp_path / "dd"
    p = opencook("data", "dedup", str(dataset), "--out", str(out), "--num-perm", "128", "--bands", "32",
                 "--rows", "4", "--workers", "1", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "implied threshold 0.420" in p.stdout
    removed_list = out / "stages" / "01_fuzzy_dedup" / "decision.parquet"
    assert f"removed files: {removed_list}" in p.stdout
    decision = pq.read_table(removed_list).to_pylist()
    removed = [(r["repo"], r["path"]) for r in decision if r["id"] != r["survivor_id"]]
    assert ("alpha", "pkg/mod1.py") in removed  # beta's near-copy survives (more stars)
    assert len([r for r in decision if r["path"] == "pkg/shared.py"]) == 3  # exact copies cluster too
    kept = pq.read_table(out / "dataset").num_rows
    assert kept == n_in - len(removed)
    assert f"{n_in} in, {kept} kept, {len(removed)} removed" in p.stdout
    assert json.loads((out / "manifest.json").read_text())["total_rows"] == kept


def test_dedup_a_parquet_file_with_a_preset_and_bad_options(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)
    part = sorted(dataset.glob("*.parquet"))[0]
    p = opencook("data", "dedup", str(part), "--out", str(tmp_path / "dt"), "--preset", "datatrove",
                 "--no-verify", "--workers", "1", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "implied threshold 0.719" in p.stdout and "no verification" in p.stdout
    bad = opencook("data", "dedup", str(part), "--out", str(tmp_path / "bad"), "--num-perm", "64",
                   cwd=tmp_path)
    assert bad.returncode == 2 and "exceeds num_perm" in bad.stderr and "Traceback" not in bad.stderr
    missing = opencook("data", "dedup", str(tmp_path / "nope"), "--out", str(tmp_path / "m"), cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_dedup_backend_rensa_finds_the_same_duplicates_and_is_recorded(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)
    removed = {}
    for backend in ("numpy", "rensa"):
        out = tmp_path / backend
        p = opencook("data", "dedup", str(dataset), "--out", str(out), "--num-perm", "128", "--bands", "32",
                     "--rows", "4", "--backend", backend, "--workers", "1", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert f"128 permutations ({backend})" in p.stdout
        decision = pq.read_table(out / "stages" / "01_fuzzy_dedup" / "decision.parquet").to_pylist()
        removed[backend] = sorted((r["repo"], r["path"]) for r in decision if r["id"] != r["survivor_id"])
        resolved = out / "config.yaml"  # the resolved recipe the run recorded
        assert f"backend: {backend}" in resolved.read_text()
    assert ("alpha", "pkg/mod1.py") in removed["rensa"]
    assert removed["rensa"] == removed["numpy"]  # other permutations, same clear-cut duplicates
    bad = opencook("data", "dedup", str(dataset), "--out", str(tmp_path / "b"), "--backend", "datasketch", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
