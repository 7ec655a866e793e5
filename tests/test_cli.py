"""The CLI as a user meets it: a real subprocess, messages instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from fixtures_code import make_repos


def opencook(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opencook.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def write_recipe(path: Path, stages: list) -> Path:
    path.write_text(yaml.safe_dump({"name": "cli", "stages": stages}))
    return path


def test_run_prints_where_outputs_are_and_writes_report(tmp_path):
    root = make_repos(tmp_path)
    recipe = write_recipe(tmp_path / "r.yaml", [
        {"ingest": {"paths": [str(root / "repos")], "layout": "repos"}}, {"exact_dedup": {}},
        {"filter": {}}, {"write": {}}])
    proc = opencook("run", str(recipe), "--out", str(tmp_path / "out"), "--workers", "1",
                    "--executor", "inprocess", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "report:" in proc.stdout and (tmp_path / "out" / "report.html").exists()
    assert pq.read_table(tmp_path / "out" / "dataset").num_rows > 0


def test_missing_input_path_is_named_without_traceback(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", [{"ingest": {"paths": [str(tmp_path / "nope")]}}, {"write": {}}])
    proc = opencook("run", str(recipe), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode != 0
    assert str(tmp_path / "nope") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_typo_exits_with_the_key_named_and_no_output_dir(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", [{"ingest": {"path": ["x"]}}, {"write": {}}])
    proc = opencook("run", str(recipe), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown key 'path'; did you mean 'paths'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_data_filter_writes_one_row_per_file(tmp_path):
    root = make_repos(tmp_path)
    proc = opencook("data", "filter", str(root / "repos" / "alpha"), "--out", str(tmp_path / "f"),
                    cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = pq.read_table(next((tmp_path / "f").glob("*.parquet"))).to_pylist()
    by_path = {r["path"]: r for r in rows}
    assert len(by_path) == 9  # every file gets a row, the ones that cannot be filtered say why
    assert by_path["src/core.c"]["language"] == "C" and by_path["src/core.c"]["kept"]
    assert not by_path["logo.png"]["kept"] and by_path["logo.png"]["reason"]
    assert not by_path["pkg/blob.py"]["kept"] and by_path["pkg/blob.py"]["reason"] == "binary"
    assert by_path["notes.txt"]["hits"] and not by_path["notes.txt"]["kept"]
